// The expiry and reservation-release jobs: batches until one comes back short, each batch
// committed on its own and its holders' coupon caches invalidated right after it.
import type { PrismaClient } from "@coupon/db/client";
import { invalidateCouponCache, type KeySpace, type RedisClient } from "@coupon/redis";
import { expireBatch } from "../persistence/expire-coupons.js";
import { releaseStaleBatch } from "../persistence/release-reservations.js";

export interface BatchDeps {
  prisma: PrismaClient;
  redis: RedisClient;
  keys: KeySpace;
  batchSize: number;
}

async function drain(deps: BatchDeps, batch: () => Promise<string[]>): Promise<{ changed: number; batches: number }> {
  let changed = 0;
  let batches = 0;
  for (;;) {
    const users = await batch();
    batches++;
    changed += users.length;
    if (users.length > 0) await invalidateCouponCache(deps.redis, deps.keys, users);
    // Short batch: nothing more was due (or the rest is locked by someone else right now).
    if (users.length < deps.batchSize) return { changed, batches };
  }
}

export async function expireCoupons(deps: BatchDeps): Promise<{ expired: number; batches: number }> {
  const { changed, batches } = await drain(deps, () => expireBatch(deps.prisma, deps.batchSize));
  return { expired: changed, batches };
}

export async function releaseStaleReservations(
  deps: BatchDeps & { timeoutMs: number },
): Promise<{ released: number; batches: number }> {
  const { changed, batches } = await drain(deps, () => releaseStaleBatch(deps.prisma, deps.timeoutMs, deps.batchSize));
  return { released: changed, batches };
}
