// Every Redis key the service uses is built here. All keys of one policy share the hash tag
// {p:<id>}, so a script that touches several of them runs in one Redis Cluster slot.

export interface PolicyKeys {
  /** hash: type, status, start, end (epoch ms), total (-1 = unlimited), limit (per user) */
  meta: string;
  /** integer: admissions that hold stock (persisted or pending) */
  admitted: string;
  /** hash userId -> admissions held by that user */
  counts: string;
  /** hash userId -> the user's first requestId (the answer to a duplicate) */
  first: string;
  /** hash requestId -> "userId|slot|admittedAtMs|clientIp" while the worker has not recorded it */
  pending: string;
  /** zset requestId by admittedAtMs: what recovery scans for admissions that never reached the queue */
  pendingAt: string;
  /** string: what a DIRECT batch's chunk took here (see reserveDirect-5.lua), so a redone chunk takes nothing twice */
  directChunk(batchId: string, chunkNo: number): string;
  /** staging hashes that one rebuild (named by its token) fills before it swaps them in */
  staging(token: string): { counts: string; first: string };
}

export class KeySpace {
  constructor(readonly prefix: string) {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) throw new Error(`bad Redis key prefix: ${prefix}`);
  }

  policy(policyId: bigint | string): PolicyKeys {
    const base = `${this.prefix}:{p:${policyId}}`;
    return {
      meta: `${base}:meta`,
      admitted: `${base}:admitted`,
      counts: `${base}:counts`,
      first: `${base}:first`,
      pending: `${base}:pending`,
      pendingAt: `${base}:pending-at`,
      directChunk: (batchId, chunkNo) => `${base}:direct:${batchId}:${chunkNo}`,
      staging: (token) => ({ counts: `${base}:staging:${token}:counts`, first: `${base}:staging:${token}:first` }),
    };
  }

  /** keys of one user, under the hash tag {u:<id>} */
  user(userId: string): { couponsVersion: string; couponsPage: (version: string, query: string) => string; rate: string } {
    const base = `${this.prefix}:{u:${userId}}`;
    return {
      couponsVersion: `${base}:coupons-version`,
      rate: `${base}:rate`,
      couponsPage: (version, query) => `${base}:coupons:${version}:${query}`,
    };
  }

  /** keys of one client address, under the hash tag {ip:<address>}: its rate limit (rateLimit-1.lua) */
  ip(address: string): { rate: string } {
    return { rate: `${this.prefix}:{ip:${address}}:rate` };
  }

  /** hash codeKey -> policyId, for CODE claims */
  codes(): string {
    return `${this.prefix}:codes`;
  }

  /** set of policy ids whose admissions recovery watches */
  policies(): string {
    return `${this.prefix}:policies`;
  }

  /** pub/sub channel: a policy id whose refusals may no longer hold */
  policyEvents(): string {
    return `${this.prefix}:policy-changed`;
  }

  /** stream of coupon events relayed from the outbox (fields id, type, couponId, payload): see docs/events.md */
  events(): string {
    return `${this.prefix}:events`;
  }

  /** hash: the last run of a scheduled job (startedAt, finishedAt, outcome, result) and run counts */
  scheduleRuns(name: string): string {
    return `${this.prefix}:schedule:${name}`;
  }

  /** BullMQ prefix: one hash tag for every queue key, as BullMQ's cluster guide asks */
  queuePrefix(): string {
    return `${this.prefix}:{q}`;
  }
}
