// A DIRECT batch's side of the policy's Redis state: each chunk takes its units before the worker
// inserts (reserveDirect-5.lua) and gives back what the insert did not use (settleDirect-5.lua).
import type { KeySpace } from "./keys.js";
import type { ScriptedClient } from "./scripts.js";

/** How long a chunk's outcome is kept: far longer than any batch takes to resume. */
const CHUNK_KEY_TTL_S = 7 * 24 * 3600;

/** Per user, in list order: the slot taken, or why none was. */
export type DirectReservation = { slot: number } | { refused: "ALREADY_ISSUED" | "SOLD_OUT" };

export function directTag(batchId: string): string {
  return `direct-${batchId}`;
}

/** Null when Redis does not hold the policy (rebuild it from PostgreSQL, then call again). */
export async function reserveDirectChunk(
  redis: ScriptedClient,
  keys: KeySpace,
  policyId: string,
  batchId: string,
  chunkNo: number,
  userIds: string[],
): Promise<DirectReservation[] | null> {
  const k = keys.policy(policyId);
  const raw = await redis.reserveDirect(
    k.meta,
    k.admitted,
    k.counts,
    k.first,
    k.directChunk(batchId, chunkNo),
    directTag(batchId),
    CHUNK_KEY_TTL_S,
    ...userIds,
  );
  if (raw === -1) return null;
  if (typeof raw !== "string" || raw === "settled") {
    throw new Error(`chunk ${chunkNo} of batch ${batchId} was already settled in Redis`);
  }
  const parts = raw === "" ? [] : raw.split(",");
  if (parts.length !== userIds.length) throw new Error(`chunk ${chunkNo} of batch ${batchId}: Redis kept another list`);
  return parts.map((p) => {
    const n = Number(p);
    if (n === -4) return { refused: "ALREADY_ISSUED" } as const;
    if (n === -5) return { refused: "SOLD_OUT" } as const;
    return { slot: n };
  });
}

/** Gives back the units of `unused` (taken by the chunk, not inserted); once per chunk. */
export async function settleDirectChunk(
  redis: ScriptedClient,
  keys: KeySpace,
  policyId: string,
  batchId: string,
  chunkNo: number,
  unused: string[],
): Promise<number> {
  const k = keys.policy(policyId);
  return Number(
    await redis.settleDirect(k.admitted, k.counts, k.first, k.directChunk(batchId, chunkNo), k.meta, directTag(batchId), CHUNK_KEY_TTL_S, ...unused),
  );
}
