// Admissions between the Lua decision and the worker's commit.
import type { AdmissionRecord } from "@coupon/domain";
import type { KeySpace } from "./keys.js";
import { publishPolicyChanged } from "./policy-events.js";
import type { RedisClient, ScriptedClient } from "./scripts.js";

/** An admission Redis holds as pending (see admitRequest-6.lua for its encoding). */
export type PendingAdmission = AdmissionRecord;

export function encodePending(a: Omit<PendingAdmission, "requestId" | "policyId">): string {
  return `${a.userId}|${a.slot}|${a.admittedAt}|${a.clientIp}`;
}

export function decodePending(policyId: string, requestId: string, value: string): PendingAdmission | null {
  const [userId, slot, admittedAt, clientIp] = value.split("|");
  if (!userId || !slot || !admittedAt) return null;
  return { requestId, policyId, userId, slot: Number(slot), admittedAt: Number(admittedAt), clientIp: clientIp ?? "" };
}

export async function getPending(
  redis: RedisClient,
  keys: KeySpace,
  policyId: string,
  requestId: string,
): Promise<PendingAdmission | null> {
  const value = await redis.hget(keys.policy(policyId).pending, requestId);
  return value === null ? null : decodePending(policyId, requestId, value);
}

/** Admissions older than `olderThanMs` that the worker has not recorded yet. */
export async function stalePending(
  redis: RedisClient,
  keys: KeySpace,
  policyId: string,
  olderThanMs: number,
  limit: number,
): Promise<PendingAdmission[]> {
  const k = keys.policy(policyId);
  const ids = await redis.zrangebyscore(k.pendingAt, "-inf", olderThanMs, "LIMIT", 0, limit);
  if (ids.length === 0) return [];
  const values = await redis.hmget(k.pending, ...ids);
  const out: PendingAdmission[] = [];
  ids.forEach((id, i) => {
    const v = values[i];
    const decoded = v ? decodePending(policyId, id, v) : null;
    if (decoded) out.push(decoded);
  });
  return out;
}

export async function completeAdmissions(
  redis: ScriptedClient,
  keys: KeySpace,
  policyId: string,
  requestIds: string[],
): Promise<number> {
  if (requestIds.length === 0) return 0;
  const k = keys.policy(policyId);
  return Number(await redis.completeAdmissions(k.pending, k.pendingAt, ...requestIds));
}

export async function releaseAdmission(
  redis: ScriptedClient,
  keys: KeySpace,
  a: { policyId: string; requestId: string; userId: string },
  returnStock: boolean,
): Promise<boolean> {
  const k = keys.policy(a.policyId);
  const r = await redis.releaseAdmission(
    k.pending,
    k.pendingAt,
    k.admitted,
    k.counts,
    k.first,
    a.requestId,
    a.userId,
    returnStock ? "1" : "0",
  );
  const released = Number(r) === 1;
  // The user's place (and maybe a unit of stock) is free again: cached refusals may be wrong now.
  if (released) await publishPolicyChanged(redis, keys, a.policyId);
  return released;
}
