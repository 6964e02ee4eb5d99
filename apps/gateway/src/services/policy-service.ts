// Policies: PostgreSQL holds them, Redis holds what the hot path needs to decide. This service
// writes the first and then the second, and rebuilds Redis from PostgreSQL when Redis lost it.
import {
  DomainError,
  canChangePolicyStatus,
  codeKey,
  policyDraftProblems,
  type PolicyDraft,
  type PolicyStatus,
} from "@coupon/domain";
import type { PrismaClient } from "@coupon/db/client";
import { rebuildPolicyFromPostgres, rulesOf } from "@coupon/policy-state";
import { admittedCount, syncPolicyRules, type KeySpace, type ScriptedClient } from "@coupon/redis";
import type { FastifyBaseLogger } from "fastify";
import { requestBatchCancel } from "../persistence/cancel-batches.js";
import type { PolicyRecord } from "./policy-view.js";

const MISSING_TTL_MS = 2_000;

export class PolicyService {
  private readonly rebuilding = new Map<string, Promise<boolean>>();
  private readonly missing = new Map<string, number>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly redis: ScriptedClient,
    private readonly keys: KeySpace,
    private readonly log: FastifyBaseLogger,
  ) {}

  async create(draft: PolicyDraft, status: PolicyStatus): Promise<PolicyRecord> {
    const problems = policyDraftProblems(draft);
    if (problems.length) throw new DomainError("VALIDATION", problems.join("; "));
    let policy: PolicyRecord;
    try {
      policy = await this.prisma.couponPolicy.create({
        data: {
          name: draft.name,
          issueType: draft.issueType,
          code: draft.code,
          codeKey: draft.code ? codeKey(draft.code) : null,
          totalQuantity: draft.totalQuantity,
          perUserLimit: draft.perUserLimit,
          validDays: draft.validDays,
          validUntil: draft.validUntil,
          issueStartAt: draft.issueStartAt,
          issueEndAt: draft.issueEndAt,
          status,
          discountType: draft.discountType,
          discountValue: draft.discountValue,
        },
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DomainError("CODE_TAKEN", `Code ${draft.code} is already in use`);
      throw err;
    }
    await this.publish(policy, "create");
    return policy;
  }

  async get(id: bigint): Promise<PolicyRecord> {
    const policy = await this.prisma.couponPolicy.findUnique({ where: { id } });
    if (!policy) throw new DomainError("POLICY_NOT_FOUND", `Policy ${id} does not exist`);
    return policy;
  }

  async list(afterId: bigint | null, limit: number): Promise<PolicyRecord[]> {
    return this.prisma.couponPolicy.findMany({
      where: afterId === null ? {} : { id: { gt: afterId } },
      orderBy: { id: "asc" },
      take: limit,
    });
  }

  async changeStatus(id: bigint, to: PolicyStatus): Promise<PolicyRecord> {
    const current = await this.get(id);
    if (!canChangePolicyStatus(current.status as PolicyStatus, to)) {
      throw new DomainError("INVALID_STATE", `A ${current.status} policy cannot become ${to}`);
    }
    // Conditional on the status read above: of two racing changes, the second sees 0 rows.
    const changed = await this.prisma.$transaction(async (tx) => {
      const updated = await tx.couponPolicy.updateMany({
        where: { id, status: current.status as PolicyStatus },
        data: { status: to },
      });
      // An ended policy issues nothing more: its DIRECT batches still to do stop with it.
      if (updated.count > 0 && to === "ENDED") {
        const stopped = await requestBatchCancel(tx, { policyId: id });
        if (stopped.length > 0) this.log.info({ policyId: id.toString(), batches: stopped.map(String) }, "policy ended: its batches are cancelled");
      }
      return updated.count > 0;
    });
    if (!changed) throw new DomainError("INVALID_STATE", "The policy changed meanwhile; read it again");
    const policy = await this.get(id);
    await this.publish(policy, "update");
    return policy;
  }

  /** The policy that owns a (case-folded) code; makes it known to Redis on the way. */
  async idForCode(key: string): Promise<string | null> {
    const policy = await this.prisma.couponPolicy.findUnique({ where: { codeKey: key }, select: { id: true } });
    if (!policy) return null;
    const id = policy.id.toString();
    await this.ensureInRedis(id);
    return id;
  }

  async admitted(id: bigint): Promise<number | null> {
    return admittedCount(this.redis, this.keys, id.toString());
  }

  /**
   * Makes sure Redis holds the policy, rebuilding it from PostgreSQL when Redis lost it.
   * False when PostgreSQL has no such policy. One rebuild per policy at a time per process.
   */
  async ensureInRedis(policyId: string): Promise<boolean> {
    const missingUntil = this.missing.get(policyId);
    if (missingUntil !== undefined && missingUntil > Date.now()) return false;
    let pending = this.rebuilding.get(policyId);
    if (!pending) {
      pending = this.rebuild(policyId).finally(() => this.rebuilding.delete(policyId));
      this.rebuilding.set(policyId, pending);
    }
    return pending;
  }

  /**
   * The admin's rebuild command: rebuilds the policy's Redis state from PostgreSQL when Redis
   * lost it. INVALID_STATE when Redis still holds it, since overwriting live counts with
   * PostgreSQL's (which lag the pending admissions) would oversell.
   */
  async rebuildLost(id: bigint): Promise<PolicyRecord> {
    const outcome = await rebuildPolicyFromPostgres(this.prisma, this.redis, this.keys, id);
    if (!outcome.found) throw new DomainError("POLICY_NOT_FOUND", `Policy ${id} does not exist`);
    if (!outcome.rebuilt) throw new DomainError("INVALID_STATE", `Redis still holds policy ${id}; nothing to rebuild`);
    this.log.warn({ policyId: id.toString(), issued: outcome.issued }, "rebuilt policy state in Redis from PostgreSQL (admin)");
    return outcome.policy;
  }

  private async rebuild(policyId: string): Promise<boolean> {
    const outcome = await rebuildPolicyFromPostgres(this.prisma, this.redis, this.keys, BigInt(policyId));
    if (!outcome.found) {
      if (this.missing.size > 10_000) this.missing.clear();
      this.missing.set(policyId, Date.now() + MISSING_TTL_MS);
      return false;
    }
    if (outcome.rebuilt) this.log.warn({ policyId, issued: outcome.issued }, "rebuilt policy state in Redis from PostgreSQL");
    return true;
  }

  private async publish(policy: PolicyRecord, mode: "create" | "update"): Promise<void> {
    try {
      const written = await syncPolicyRules(this.redis, this.keys, rulesOf(policy), mode);
      if (!written) await this.ensureInRedis(policy.id.toString());
    } catch (err) {
      // PostgreSQL committed; the first issue request for this policy rebuilds Redis from it.
      this.log.error({ err, policyId: policy.id.toString() }, "could not write policy to Redis");
    }
  }
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "P2002";
}
