// A user's coupon lists, cached. Every change to a user's coupons bumps the user's version before
// the change is answered; readers look under the current version only. A reader that fetched from
// PostgreSQL before a bump stores under the old version, which nobody reads again, so no reader
// ever sees a list older than the last change it was told about.
import type { KeySpace } from "./keys.js";
import type { RedisClient } from "./scripts.js";

export const COUPON_CACHE_TTL_S = 60;
/** a version outlives every page stored under it */
const VERSION_TTL_S = 86_400;

async function version(redis: RedisClient, keys: KeySpace, userId: string): Promise<string> {
  return (await redis.get(keys.user(userId).couponsVersion)) ?? "0";
}

/** The cached answer for this user and query, with the version to store a fresh one under. */
export async function readCouponCache(
  redis: RedisClient,
  keys: KeySpace,
  userId: string,
  query: string,
): Promise<{ hit: string | null; version: string }> {
  const v = await version(redis, keys, userId);
  return { hit: await redis.get(keys.user(userId).couponsPage(v, query)), version: v };
}

export async function writeCouponCache(
  redis: RedisClient,
  keys: KeySpace,
  userId: string,
  query: string,
  readVersion: string,
  value: string,
): Promise<void> {
  await redis.set(keys.user(userId).couponsPage(readVersion, query), value, "EX", COUPON_CACHE_TTL_S);
}

/** Call after the change committed and before it is answered. */
export async function invalidateCouponCache(redis: RedisClient, keys: KeySpace, userIds: Iterable<string>): Promise<void> {
  const unique = [...new Set(userIds)];
  if (unique.length === 0) return;
  if (!redis.isCluster) {
    // One pipeline, one round trip: the expiry job invalidates thousands of users per batch.
    const pipe = redis.pipeline();
    for (const u of unique) {
      const key = keys.user(u).couponsVersion;
      pipe.incr(key).expire(key, VERSION_TTL_S);
    }
    const results = (await pipe.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    return;
  }
  // Keys of different users live in different cluster slots: one INCR per user, no pipeline
  // across slots (auto-pipelining still sends them together).
  await Promise.all(
    unique.map((u) => {
      const key = keys.user(u).couponsVersion;
      return redis.incr(key).then(() => redis.expire(key, VERSION_TTL_S));
    }),
  );
}
