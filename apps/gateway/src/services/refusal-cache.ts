// Refusals that Redis has already given, kept in the gateway so a stampede on a sold-out policy
// costs no Redis round trip: the policy's sold-out state (for a short time) and the users who
// already hold its coupon. Only refusals are cached, so a stale entry can never oversell. Whatever
// could turn a refusal into an admission (stock or a user's place given back, a policy rebuilt or
// changed) is published on a channel; every gateway drops that policy's entries when it hears it,
// and the time limit bounds staleness should a message be lost.
//
// A lookup allocates nothing: entries are keyed by the policy id alone (no composite key string
// per request), and a hit returns the object stored when the refusal was noted.

type Way = "FCFS" | "CODE";

export interface CachedRefusal {
  readonly code: "SOLD_OUT" | "ALREADY_ISSUED";
  readonly firstRequestId?: string;
}

const SOLD_OUT: CachedRefusal = Object.freeze({ code: "SOLD_OUT" });

interface PolicyRefusals {
  // The way Redis answered: a CODE policy asked for by id must still be told WRONG_ISSUE_TYPE by Redis.
  way: Way;
  soldOutUntil: number;
  holders: Map<string, CachedRefusal>;
}

export class RefusalCache {
  private readonly policies = new Map<string, PolicyRefusals>();
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
    const entry = this.policies.get(policyId);
    if (entry === undefined || entry.way !== way) return null;
    const held = entry.holders.get(userId);
    if (held !== undefined) return held;
    return entry.soldOutUntil > this.now() ? SOLD_OUT : null;
  }

  noteSoldOut(way: Way, policyId: string): void {
    if (this.enabled) this.entry(way, policyId).soldOutUntil = this.now() + this.soldOutTtlMs;
  }

  noteHolder(way: Way, policyId: string, userId: string, firstRequestId: string): void {
    if (!this.enabled) return;
    const holders = this.entry(way, policyId).holders;
    if (!holders.has(userId)) this.holderCount++;
    holders.set(userId, Object.freeze({ code: "ALREADY_ISSUED", firstRequestId }));
    // Under a stampede only the current sale matters: forget the policies noted first.
    for (const [id, oldest] of this.policies) {
      if (this.holderCount <= this.maxHolders) break;
      this.drop(id, oldest);
    }
  }

  /** Something changed for this policy that may turn a refusal into an admission. */
  invalidate(policyId: string): void {
    const entry = this.policies.get(policyId);
    if (entry) this.drop(policyId, entry);
  }

  clear(): void {
    this.policies.clear();
    this.holderCount = 0;
  }

  private entry(way: Way, policyId: string): PolicyRefusals {
    let entry = this.policies.get(policyId);
    if (entry && entry.way !== way) {
      // Redis answered the other way last: what was noted for the first no longer applies.
      this.drop(policyId, entry);
      entry = undefined;
    }
    if (!entry) {
      entry = { way, soldOutUntil: 0, holders: new Map() };
      this.policies.set(policyId, entry);
    }
    return entry;
  }

  private drop(policyId: string, entry: PolicyRefusals): void {
    this.holderCount -= entry.holders.size;
    this.policies.delete(policyId);
  }
}
