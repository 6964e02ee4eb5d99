// The expiry and reservation-release jobs: batches until one comes back short, each batch
// committed on its own and its holders' coupon caches invalidated right after it.
//
// Speed, for a backlog of a million coupons: `concurrency` lanes run batches side by side (SKIP
// LOCKED keeps them disjoint; a lane whose batch came back short stops, the others finish the
// rest), and a lane invalidates the caches of one batch while PostgreSQL runs its next one.
import type { PrismaClient } from "@coupon/db/client";
import { invalidateCouponCache, type KeySpace, type RedisClient } from "@coupon/redis";
import { expireBatch } from "../persistence/expire-coupons.js";
import { releaseStaleBatch } from "../persistence/release-reservations.js";

export interface BatchDeps {
  prisma: PrismaClient;
  redis: RedisClient;
  keys: KeySpace;
  batchSize: number;
  concurrency: number;
}

interface Drained {
  changed: number;
  batches: number;
  /** time spent in PostgreSQL and in cache invalidation, summed over the lanes */
  sqlMs: number;
  cacheMs: number;
}

async function drain(deps: BatchDeps, batch: () => Promise<string[]>): Promise<Drained> {
  const totals: Drained = { changed: 0, batches: 0, sqlMs: 0, cacheMs: 0 };
  const invalidate = async (users: string[]) => {
    const t0 = performance.now();
    await invalidateCouponCache(deps.redis, deps.keys, users);
    totals.cacheMs += performance.now() - t0;
  };
  const lane = async () => {
    let inflight: Promise<void> = Promise.resolve();
    let failure: unknown = null;
    const settle = async () => {
      await inflight;
      if (failure !== null) throw failure;
    };
    for (;;) {
      const t0 = performance.now();
      const users = await batch().catch(async (err: unknown) => {
        await settle().catch(() => {}); // the committed batches' caches still get invalidated
        throw err;
      });
      totals.sqlMs += performance.now() - t0;
      totals.batches++;
      totals.changed += users.length;
      await settle();
      inflight = users.length > 0 ? invalidate(users).catch((err: unknown) => void (failure = err)) : Promise.resolve();
      // Short batch: nothing more was due, or the rest is locked by another lane or request.
      if (users.length < deps.batchSize) return settle();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, deps.concurrency) }, lane));
  totals.sqlMs = Math.round(totals.sqlMs);
  totals.cacheMs = Math.round(totals.cacheMs);
  return totals;
}

export async function expireCoupons(deps: BatchDeps): Promise<{ expired: number; batches: number; sqlMs: number; cacheMs: number }> {
  const { changed, ...rest } = await drain(deps, () => expireBatch(deps.prisma, deps.batchSize));
  return { expired: changed, ...rest };
}

export async function releaseStaleReservations(
  deps: BatchDeps & { timeoutMs: number },
): Promise<{ released: number; batches: number; sqlMs: number; cacheMs: number }> {
  const { changed, ...rest } = await drain(deps, () => releaseStaleBatch(deps.prisma, deps.timeoutMs, deps.batchSize));
  return { released: changed, ...rest };
}
