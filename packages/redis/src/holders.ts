// A snapshot of a policy's holders: the users the admission script would answer ALREADY_ISSUED
// (they reached the per-user limit), with the first requestId it would give them. A gateway
// takes one when a policy sells out, so that it can answer both refusals from memory and still
// tell a holder it has not seen 409, not 410. Read with HSCAN in pages, so a big policy never
// blocks Redis; once sold out, the hashes only change when stock is given back, which is
// announced on the policy-changed channel.
import type { KeySpace } from "./keys.js";
import type { RedisClient } from "./scripts.js";

const PAGE = 1000;

/** userId -> first requestId ('' when Redis has none), or null when the policy has more than `max` users. */
export async function readHolders(redis: RedisClient, keys: KeySpace, policyId: string, max: number): Promise<Map<string, string> | null> {
  const k = keys.policy(policyId);
  const [limitText, users] = await Promise.all([redis.hget(k.meta, "limit"), redis.hlen(k.counts)]);
  if (users > max) return null;
  const limit = Number(limitText ?? "1") || 1;
  const holders: string[] = [];
  let cursor = "0";
  do {
    const [next, flat] = await redis.hscan(k.counts, cursor, "COUNT", PAGE);
    cursor = next;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (Number(flat[i + 1]) >= limit) holders.push(flat[i] as string);
    }
  } while (cursor !== "0");
  const firsts = new Map<string, string>();
  for (let i = 0; i < holders.length; i += PAGE) {
    const page = holders.slice(i, i + PAGE);
    const values = await redis.hmget(k.first, ...page);
    page.forEach((userId, j) => firsts.set(userId, values[j] ?? ""));
  }
  return firsts;
}
