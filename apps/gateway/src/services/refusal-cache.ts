// Refusals that Redis has already given, kept in the gateway so a stampede on a sold-out policy
// costs no Redis round trip: the policy's sold-out state (for a short time) and the users who
// already hold its coupon. Only refusals are cached, so a stale entry can never oversell. Whatever
// could turn a refusal into an admission (stock or a user's place given back, a policy rebuilt or
// changed) is published on a channel; every gateway drops that policy's entries when it hears it,
// and the time limit bounds staleness should a message be lost.
//
// A holder asking again must hear 409 ALREADY_ISSUED, as Redis would say, even when this gateway
// never saw them: so sold out is answered from memory only once the policy's holders are all
// known here (a snapshot read when it sold out, see loadHolders). Until then, and for a policy
// with more users than the cache can hold, the requests go to Redis.
//
// When the sold-out time runs out, one request asks Redis again (the renewal) while the rest are
// still answered from memory, for at most one more period: a sold-out stampede sends Redis one
// request per gateway per period, not every request that arrives during a round trip. Should the
// renewal not come back with SOLD_OUT in that time (refused by a rate limit, failed, or admitted
// because stock came back unannounced), everyone asks Redis again.
//
// A lookup allocates nothing: entries are keyed by the policy id alone (no composite key string
// per request), and a hit returns the object stored when the refusal was noted.

type Way = "FCFS" | "CODE";

export interface CachedRefusal {
  readonly code: "SOLD_OUT" | "ALREADY_ISSUED";
  readonly firstRequestId?: string;
}

const SOLD_OUT: CachedRefusal = Object.freeze({ code: "SOLD_OUT" });

/** A snapshot still loading after this long is asked for again (a read that never answered). */
export const HOLDER_LOAD_TIMEOUT_MS = 10_000;

/** Whether every holder of the policy is in `holders`. */
type HolderSnapshot = "none" | "loading" | "complete" | "too-many";

interface PolicyRefusals {
  // The way Redis answered: a CODE policy asked for by id must still be told WRONG_ISSUE_TYPE by Redis.
  way: Way;
  soldOutUntil: number;
  /** a request went to Redis to renew sold out since it ran out */
  renewing: boolean;
  holders: Map<string, CachedRefusal>;
  snapshot: HolderSnapshot;
  loadingSince: number;
}

/** A holder snapshot to read from Redis; it applies only to the entry it was asked for. */
export interface HolderLoad {
  readonly policyId: string;
  readonly entry: object;
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
    if (entry.snapshot !== "complete") return null;
    const now = this.now();
    if (entry.soldOutUntil > now) return SOLD_OUT;
    // Ran out: while one request renews it (see noteAsking), the others keep the answer.
    return entry.renewing && now - entry.soldOutUntil < this.soldOutTtlMs ? SOLD_OUT : null;
  }

  /**
   * A request for this policy that memory did not answer goes to Redis now. Once sold out has run
   * out, the first such request is the renewal the others are answered from memory meanwhile.
   * Called where the request is sure to leave for Redis, so a lookup stays free of side effects.
   */
  noteAsking(way: Way, policyId: string): void {
    const entry = this.policies.get(policyId);
    if (entry === undefined || entry.way !== way || entry.renewing || entry.soldOutUntil === 0) return;
    if (entry.snapshot === "complete" && entry.soldOutUntil <= this.now()) entry.renewing = true;
  }

  /** Redis answered SOLD_OUT. Returns the holder snapshot to load when this gateway has none yet. */
  noteSoldOut(way: Way, policyId: string): HolderLoad | null {
    if (!this.enabled) return null;
    const entry = this.entry(way, policyId);
    const now = this.now();
    entry.soldOutUntil = now + this.soldOutTtlMs;
    entry.renewing = false;
    const stuck = entry.snapshot === "loading" && now - entry.loadingSince >= HOLDER_LOAD_TIMEOUT_MS;
    if (entry.snapshot !== "none" && !stuck) return null;
    entry.snapshot = "loading";
    entry.loadingSince = now;
    return { policyId, entry };
  }

  /** Room left for holders, the most a snapshot may bring. */
  holderRoom(): number {
    return Math.max(0, this.maxHolders - this.holderCount);
  }

  /**
   * The snapshot read for `load` (userId -> first requestId), or null when the policy has too many
   * users to hold. Dropped when the policy changed meanwhile (its entry is no longer the same).
   */
  completeHolderLoad(load: HolderLoad, holders: Map<string, string> | null): void {
    const entry = this.policies.get(load.policyId);
    if (entry === undefined || entry !== load.entry) return;
    if (holders === null) {
      entry.snapshot = "too-many";
      return;
    }
    for (const [userId, firstRequestId] of holders) {
      if (!entry.holders.has(userId)) this.holderCount++;
      entry.holders.set(userId, Object.freeze({ code: "ALREADY_ISSUED", firstRequestId }));
    }
    entry.snapshot = "complete";
    this.evictOverflow();
  }

  /** The snapshot could not be read: the next SOLD_OUT from Redis asks for it again. */
  failHolderLoad(load: HolderLoad): void {
    const entry = this.policies.get(load.policyId);
    if (entry !== undefined && entry === load.entry && entry.snapshot === "loading") entry.snapshot = "none";
  }

  noteHolder(way: Way, policyId: string, userId: string, firstRequestId: string): void {
    if (!this.enabled) return;
    const holders = this.entry(way, policyId).holders;
    if (!holders.has(userId)) this.holderCount++;
    holders.set(userId, Object.freeze({ code: "ALREADY_ISSUED", firstRequestId }));
    this.evictOverflow();
  }

  /** Redis admitted someone to this policy: it is not sold out (its holders stay known). */
  noteAdmitted(policyId: string): void {
    const entry = this.policies.get(policyId);
    if (entry !== undefined) {
      entry.soldOutUntil = 0;
      entry.renewing = false;
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

  /** Under a stampede only the current sale matters: forget the policies noted first. */
  private evictOverflow(): void {
    for (const [id, oldest] of this.policies) {
      if (this.holderCount <= this.maxHolders) break;
      this.drop(id, oldest);
    }
  }

  private entry(way: Way, policyId: string): PolicyRefusals {
    let entry = this.policies.get(policyId);
    if (entry && entry.way !== way) {
      // Redis answered the other way last: what was noted for the first no longer applies.
      this.drop(policyId, entry);
      entry = undefined;
    }
    if (!entry) {
      entry = { way, soldOutUntil: 0, renewing: false, holders: new Map(), snapshot: "none", loadingSince: 0 };
      this.policies.set(policyId, entry);
    }
    return entry;
  }

  private drop(policyId: string, entry: PolicyRefusals): void {
    this.holderCount -= entry.holders.size;
    this.policies.delete(policyId);
  }
}
