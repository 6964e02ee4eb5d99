// One rate limit step (rateLimit-1.lua): allowed, or refused with the wait before the next try.
import type { ScriptedClient } from "./scripts.js";

export interface RateLimitRule {
  /** sustained requests per second (> 0) */
  perSecond: number;
  /** requests allowed at once from a full bucket (>= 1) */
  burst: number;
}

export type RateLimitAnswer = { allowed: true } | { allowed: false; retryAfterMs: number };

const ALLOWED: RateLimitAnswer = { allowed: true };

/** Interval in whole microseconds, so the script stores exact integers. */
export function emissionIntervalUs(rule: RateLimitRule): number {
  return Math.max(1, Math.round(1_000_000 / rule.perSecond));
}

export async function takeRateLimit(redis: ScriptedClient, key: string, intervalUs: number, burst: number): Promise<RateLimitAnswer> {
  const [allowed, retryAfterMs] = (await redis.rateLimit(key, intervalUs, burst)) as [number, number];
  return allowed === 1 ? ALLOWED : { allowed: false, retryAfterMs: Number(retryAfterMs) };
}
