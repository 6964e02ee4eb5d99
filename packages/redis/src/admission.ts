// The FCFS/CODE admission: one atomic script call, its answer turned into the domain's terms.
import type { ErrorCode } from "@coupon/domain";
import type { KeySpace } from "./keys.js";
import type { ScriptedClient } from "./scripts.js";

export type IssueWay = "FCFS" | "CODE";

export type Admission =
  | { ok: true; slot: number; admittedAt: number }
  | { ok: false; code: ErrorCode; firstRequestId?: string }
  | { ok: false; code: "POLICY_UNKNOWN" };

const REFUSALS: Record<number, ErrorCode> = {
  [-2]: "WRONG_ISSUE_TYPE",
  [-3]: "NOT_OPEN",
  [-4]: "ALREADY_ISSUED",
  [-5]: "SOLD_OUT",
};

export async function admitRequest(
  redis: ScriptedClient,
  keys: KeySpace,
  input: { policyId: string; userId: string; requestId: string; way: IssueWay; clientIp: string },
): Promise<Admission> {
  const k = keys.policy(input.policyId);
  const reply = (await redis.admitRequest(
    k.meta,
    k.admitted,
    k.counts,
    k.first,
    k.pending,
    k.pendingAt,
    input.userId,
    input.requestId,
    input.way,
    input.clientIp,
  )) as [number, (number | string)?, number?];
  const code = reply[0];
  if (code === 1) return { ok: true, slot: Number(reply[1]), admittedAt: Number(reply[2]) };
  if (code === -1) return { ok: false, code: "POLICY_UNKNOWN" };
  const refusal = REFUSALS[code];
  if (!refusal) throw new Error(`admitRequest returned unknown code ${code}`);
  if (refusal === "ALREADY_ISSUED" && reply[1]) return { ok: false, code: refusal, firstRequestId: String(reply[1]) };
  return { ok: false, code: refusal };
}
