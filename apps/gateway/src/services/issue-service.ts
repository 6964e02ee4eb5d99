// The hot path: one Lua call decides, one (batched) enqueue hands the winner to the worker.
// PostgreSQL is touched only when Redis does not know the policy at all. In front of it, in
// this order: refusals this gateway already knows (no Redis at all), then the rate limits (a
// limited request reaches no admission, so it takes no stock and no place).
import { DomainError, codeKey, makeRequestId, randomRequestToken, type ErrorCode } from "@coupon/domain";
import type { AdmissionBatcher } from "@coupon/queue";
import { admitRequest, policyIdForCode, readHolders, type IssueWay, type KeySpace, type ScriptedClient } from "@coupon/redis";
import type { FastifyBaseLogger } from "fastify";
import type { PolicyService } from "./policy-service.js";
import type { LimitVerdict, RateLimiter } from "./rate-limiter.js";
import type { CachedRefusal, HolderLoad, RefusalCache } from "./refusal-cache.js";

export interface IssueAccepted {
  ok: true;
  requestId: string;
}

/** An expected refusal: answered, not thrown (under a stampede most answers are refusals). */
export interface IssueRefused {
  ok: false;
  code: ErrorCode;
  detail: string;
  extra?: Record<string, unknown>;
  /** when the client may try again (RATE_LIMITED) */
  retryAfterMs?: number;
}

export type IssueOutcome = IssueAccepted | IssueRefused;

const REFUSAL_DETAIL: Partial<Record<ErrorCode, string>> = {
  SOLD_OUT: "No coupons are left",
  NOT_OPEN: "The policy is not issuing now",
  WRONG_ISSUE_TYPE: "This policy is not issued this way",
  ALREADY_ISSUED: "This user already holds this policy's coupon",
};

function limited(verdict: LimitVerdict & { limited: true }): IssueRefused {
  return { ok: false, code: "RATE_LIMITED", detail: "Too many issue requests; try again later", retryAfterMs: verdict.retryAfterMs };
}

/**
 * The refusals that carry nothing of the request: one frozen object per code, so the route can
 * serialize each answer once (see the issue routes) and a stampede allocates none of them.
 */
export const CONSTANT_REFUSALS: ReadonlyMap<ErrorCode, IssueRefused> = new Map(
  (["SOLD_OUT", "NOT_OPEN", "WRONG_ISSUE_TYPE"] as const).map((code) => [
    code,
    Object.freeze({ ok: false, code, detail: REFUSAL_DETAIL[code] ?? code }) as IssueRefused,
  ]),
);

function refused(code: ErrorCode, firstRequestId?: string): IssueRefused {
  if (code === "ALREADY_ISSUED") return { ok: false, code, detail: REFUSAL_DETAIL[code] ?? code, extra: { requestId: firstRequestId ?? null } };
  return CONSTANT_REFUSALS.get(code) ?? { ok: false, code, detail: REFUSAL_DETAIL[code] ?? code };
}

export class IssueService {
  private readonly codeCache = new Map<string, string>();
  private readonly holderRefusals = new WeakMap<CachedRefusal, IssueRefused>();

  constructor(
    private readonly redis: ScriptedClient,
    private readonly keys: KeySpace,
    private readonly batcher: AdmissionBatcher,
    private readonly policies: PolicyService,
    private readonly refusals: RefusalCache,
    private readonly log: FastifyBaseLogger,
    private readonly limiter: RateLimiter | null = null,
  ) {}

  /**
   * The refusal this gateway already knows Redis would give (sold out, or a holder asking again),
   * or null. Synchronous: the route answers a known refusal without a promise or a Redis call.
   */
  knownRefusal(policyId: string, userId: string, way: IssueWay): IssueRefused | null {
    const cached = this.refusals.lookup(way, policyId, userId);
    if (cached === null) return null;
    if (cached.code === "SOLD_OUT") return refused("SOLD_OUT");
    // A holder pressing again gets the same object every time (so its answer can be serialized
    // once); it lives as long as the memory keeps the holder.
    let answer = this.holderRefusals.get(cached);
    if (answer === undefined) {
      answer = Object.freeze(refused(cached.code, cached.firstRequestId));
      this.holderRefusals.set(cached, answer);
    }
    return answer;
  }

  async issue(policyId: string, userId: string, way: IssueWay, clientIp: string, limitChecked = false): Promise<IssueOutcome> {
    const known = this.knownRefusal(policyId, userId, way);
    if (known) return known;
    this.refusals.noteAsking(way, policyId);
    if (!limitChecked && this.limiter) {
      const verdict = await this.limiter.check(userId, clientIp);
      if (verdict.limited) return limited(verdict);
    }
    const requestId = makeRequestId(policyId, randomRequestToken());
    const input = { policyId, userId, requestId, way, clientIp };
    let admission = await admitRequest(this.redis, this.keys, input);
    if (!admission.ok && admission.code === "POLICY_UNKNOWN") {
      if (!(await this.policies.ensureInRedis(policyId))) {
        const code = way === "CODE" ? "CODE_NOT_FOUND" : "POLICY_NOT_FOUND";
        return { ok: false, code, detail: `Policy ${policyId} does not exist` };
      }
      admission = await admitRequest(this.redis, this.keys, input);
    }
    if (!admission.ok) {
      if (admission.code === "POLICY_UNKNOWN") throw new DomainError("UNAVAILABLE", "Policy state is being rebuilt");
      if (admission.code === "ALREADY_ISSUED") {
        if (admission.firstRequestId) this.refusals.noteHolder(way, policyId, userId, admission.firstRequestId);
        return refused("ALREADY_ISSUED", admission.firstRequestId);
      }
      if (admission.code === "SOLD_OUT") {
        const load = this.refusals.noteSoldOut(way, policyId);
        if (load) void this.loadHolders(load);
      }
      return refused(admission.code);
    }
    this.refusals.noteAdmitted(policyId);
    // The admission is already durable in Redis (pending), so the answer does not wait for the
    // enqueue; should it fail, the app hears of it and recovery enqueues the admission again.
    this.batcher.add({ requestId, policyId, userId, slot: admission.slot, admittedAt: admission.admittedAt, clientIp });
    return { ok: true, requestId };
  }

  /** Reads the sold-out policy's holders, so that memory can answer them 409 and everyone else 410. */
  private async loadHolders(load: HolderLoad): Promise<void> {
    try {
      this.refusals.completeHolderLoad(load, await readHolders(this.redis, this.keys, load.policyId, this.refusals.holderRoom()));
    } catch (err) {
      // Sold out keeps coming from Redis meanwhile; the next SOLD_OUT asks for the holders again.
      this.log.warn({ err, policyId: load.policyId }, "could not read the sold-out policy's holders");
      this.refusals.failHolderLoad(load);
    }
  }

  /** knownRefusal for a code this gateway has already resolved to its policy; null otherwise. */
  knownClaimRefusal(code: string, userId: string): IssueRefused | null {
    const policyId = this.codeCache.get(codeKey(code));
    return policyId ? this.knownRefusal(policyId, userId, "CODE") : null;
  }

  async claim(code: string, userId: string, clientIp: string): Promise<IssueOutcome> {
    const key = codeKey(code);
    const known = this.codeCache.get(key);
    if (known) return this.issue(known, userId, "CODE", clientIp);
    // An unknown code costs a Redis and a PostgreSQL lookup: the limits come before them, so
    // guessing codes is limited like pressing.
    if (this.limiter) {
      const verdict = await this.limiter.check(userId, clientIp);
      if (verdict.limited) return limited(verdict);
    }
    const policyId = await this.policyForCode(key);
    if (!policyId) return { ok: false, code: "CODE_NOT_FOUND", detail: "No policy has this code" };
    return this.issue(policyId, userId, "CODE", clientIp, true);
  }

  private async policyForCode(key: string): Promise<string | null> {
    const cached = this.codeCache.get(key);
    if (cached) return cached;
    let id = await policyIdForCode(this.redis, this.keys, key);
    if (!id) id = await this.policies.idForCode(key);
    // A code belongs to one policy for good, so a hit never goes stale.
    if (id) {
      if (this.codeCache.size > 100_000) this.codeCache.clear();
      this.codeCache.set(key, id);
    }
    return id;
  }
}
