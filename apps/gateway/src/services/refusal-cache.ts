// Refusals that Redis has already given, kept in the gateway so a stampede on a sold-out policy
// costs no Redis round trip: the policy's sold-out state (for a short time) and the users who
// already hold its coupon. Only refusals are cached, so a stale entry can never oversell. Whatever
// could turn a refusal into an admission (stock or a user's place given back, a policy rebuilt or
// changed) is published on a channel; every gateway drops that policy's entries when it hears it,
// and the time limit bounds staleness should a message be lost.

type Way = "FCFS" | "CODE";
const WAYS: Way[] = ["FCFS", "CODE"];
// Keyed by way too: a CODE policy asked for by id must still be told WRONG_ISSUE_TYPE by Redis.
const slot = (way: Way, policyId: string) => `${way}:${policyId}`;

export interface CachedRefusal {
  code: "SOLD_OUT" | "ALREADY_ISSUED";
  firstRequestId?: string;
}

export class RefusalCache {
  private readonly soldOutUntil = new Map<string, number>();
  private readonly holders = new Map<string, Map<string, string>>();
  private holderCount = 0;

  constructor(
    private readonly soldOutTtlMs: number,
    private readonly maxHolders: number,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.soldOutTtlMs > 0;
  }

  /** The refusal Redis would give, as far as this gateway knows; null means: ask Redis. */
  lookup(way: Way, policyId: string, userId: string): CachedRefusal | null {
    if (!this.enabled) return null;
    const key = slot(way, policyId);
    const first = this.holders.get(key)?.get(userId);
    if (first !== undefined) return { code: "ALREADY_ISSUED", firstRequestId: first };
    const until = this.soldOutUntil.get(key);
    if (until === undefined) return null;
    if (until > this.now()) return { code: "SOLD_OUT" };
    this.soldOutUntil.delete(key);
    return null;
  }

  noteSoldOut(way: Way, policyId: string): void {
    if (this.enabled) this.soldOutUntil.set(slot(way, policyId), this.now() + this.soldOutTtlMs);
  }

  noteHolder(way: Way, policyId: string, userId: string, firstRequestId: string): void {
    if (!this.enabled) return;
    const key = slot(way, policyId);
    let users = this.holders.get(key);
    if (!users) {
      users = new Map();
      this.holders.set(key, users);
    }
    if (!users.has(userId)) this.holderCount++;
    users.set(userId, firstRequestId);
    if (this.holderCount > this.maxHolders) {
      // Forget the policy cached first: under a stampede only the current sale matters.
      const [oldest, list] = this.holders.entries().next().value as [string, Map<string, string>];
      this.holderCount -= list.size;
      this.holders.delete(oldest);
    }
  }

  /** Something changed for this policy that may turn a refusal into an admission. */
  invalidate(policyId: string): void {
    for (const way of WAYS) {
      const key = slot(way, policyId);
      this.soldOutUntil.delete(key);
      const users = this.holders.get(key);
      if (users) {
        this.holderCount -= users.size;
        this.holders.delete(key);
      }
    }
  }

  clear(): void {
    this.soldOutUntil.clear();
    this.holders.clear();
    this.holderCount = 0;
  }
}
