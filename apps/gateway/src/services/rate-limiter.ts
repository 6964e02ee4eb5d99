// Per-user and per-address rate limits on the issue endpoints, kept in Redis so that every
// gateway counts against the same buckets. Each limit is its own script call (a user's key and an
// address's key live in different cluster slots); both are sent in the same event-loop turn, so
// with auto-pipelining they cost one round trip together.
//
// A refusal is also remembered here until the time Redis gave: no request can pass that bucket
// before then (refused requests change nothing and allowed ones only push it further out), so
// someone hammering a limit is answered without Redis at all.
import { emissionIntervalUs, takeRateLimit, type KeySpace, type RateLimitAnswer, type RateLimitRule, type ScriptedClient } from "@coupon/redis";

export interface RateLimits {
  user: RateLimitRule | null;
  ip: RateLimitRule | null;
}

export type LimitVerdict = { limited: false } | { limited: true; retryAfterMs: number };

const PASS: LimitVerdict = { limited: false };
// Bounds the refusal memory; under an attack from many addresses it is simply cleared.
const MAX_REMEMBERED = 100_000;

export class RateLimiter {
  private readonly refusedUntil = new Map<string, number>();
  private readonly user: { intervalUs: number; burst: number } | null;
  private readonly ip: { intervalUs: number; burst: number } | null;

  constructor(
    private readonly redis: ScriptedClient,
    private readonly keys: KeySpace,
    limits: RateLimits,
    private readonly now: () => number = Date.now,
  ) {
    const compile = (r: RateLimitRule | null) => (r && r.perSecond > 0 ? { intervalUs: emissionIntervalUs(r), burst: r.burst } : null);
    this.user = compile(limits.user);
    this.ip = compile(limits.ip);
  }

  get enabled(): boolean {
    return this.user !== null || this.ip !== null;
  }

  async check(userId: string, address: string): Promise<LimitVerdict> {
    const userKey = this.user ? this.keys.user(userId).rate : null;
    const ipKey = this.ip ? this.keys.ip(address).rate : null;
    const remembered = Math.max(this.remembered(userKey), this.remembered(ipKey));
    if (remembered > 0) return { limited: true, retryAfterMs: remembered };
    const userCall = userKey && this.user ? takeRateLimit(this.redis, userKey, this.user.intervalUs, this.user.burst) : null;
    const ipCall = ipKey && this.ip ? takeRateLimit(this.redis, ipKey, this.ip.intervalUs, this.ip.burst) : null;
    // Both leave in this event-loop turn (one pipelined round trip). Promise.all only when both
    // are on: awaiting one while the other might reject unobserved would be an unhandled rejection.
    let byUser: RateLimitAnswer | null;
    let byIp: RateLimitAnswer | null;
    if (userCall && ipCall) [byUser, byIp] = await Promise.all([userCall, ipCall]);
    else [byUser, byIp] = [userCall && (await userCall), ipCall && (await ipCall)];
    // One bucket may have counted the request while the other refused it: it was still a
    // request sent, so that token stays spent.
    let wait = 0;
    if (byUser && !byUser.allowed) wait = Math.max(wait, this.remember(userKey as string, byUser.retryAfterMs));
    if (byIp && !byIp.allowed) wait = Math.max(wait, this.remember(ipKey as string, byIp.retryAfterMs));
    return wait > 0 ? { limited: true, retryAfterMs: wait } : PASS;
  }

  private remembered(key: string | null): number {
    if (key === null) return 0;
    const until = this.refusedUntil.get(key);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left > 0) return left;
    this.refusedUntil.delete(key);
    return 0;
  }

  private remember(key: string, retryAfterMs: number): number {
    if (this.refusedUntil.size >= MAX_REMEMBERED) this.refusedUntil.clear();
    this.refusedUntil.set(key, this.now() + retryAfterMs);
    return retryAfterMs;
  }
}
