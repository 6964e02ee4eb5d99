// The hot path: one Lua call decides, one (batched) enqueue hands the winner to the worker.
// PostgreSQL is touched only when Redis does not know the policy at all.
import { DomainError, makeRequestId, randomRequestToken } from "@coupon/domain";
import type { AdmissionBatcher } from "@coupon/queue";
import { admitRequest, policyIdForCode, type IssueWay, type KeySpace, type ScriptedClient } from "@coupon/redis";
import type { FastifyBaseLogger } from "fastify";
import type { PolicyService } from "./policy-service.js";

export interface IssueAccepted {
  requestId: string;
  status: "PENDING";
}

export class IssueService {
  private readonly codeCache = new Map<string, string>();

  constructor(
    private readonly redis: ScriptedClient,
    private readonly keys: KeySpace,
    private readonly batcher: AdmissionBatcher,
    private readonly policies: PolicyService,
    private readonly log: FastifyBaseLogger,
  ) {}

  async issue(policyId: string, userId: string, way: IssueWay, clientIp: string): Promise<IssueAccepted> {
    const requestId = makeRequestId(policyId, randomRequestToken());
    const input = { policyId, userId, requestId, way, clientIp };
    let admission = await admitRequest(this.redis, this.keys, input);
    if (!admission.ok && admission.code === "POLICY_UNKNOWN") {
      if (!(await this.policies.ensureInRedis(policyId))) {
        throw new DomainError(way === "CODE" ? "CODE_NOT_FOUND" : "POLICY_NOT_FOUND", `Policy ${policyId} does not exist`);
      }
      admission = await admitRequest(this.redis, this.keys, input);
    }
    if (!admission.ok) {
      if (admission.code === "POLICY_UNKNOWN") throw new DomainError("UNAVAILABLE", "Policy state is being rebuilt");
      if (admission.code === "ALREADY_ISSUED") {
        throw new DomainError("ALREADY_ISSUED", "This user already holds this policy's coupon", {
          requestId: admission.firstRequestId ?? null,
        });
      }
      throw new DomainError(admission.code);
    }
    try {
      await this.batcher.add({ requestId, policyId, userId, slot: admission.slot, admittedAt: admission.admittedAt, clientIp });
    } catch (err) {
      // The admission is recorded in Redis; recovery enqueues it. The user did win.
      this.log.error({ err, requestId }, "enqueue failed; recovery will pick the admission up");
    }
    return { requestId, status: "PENDING" };
  }

  async claim(code: string, userId: string, clientIp: string): Promise<IssueAccepted> {
    const policyId = await this.policyForCode(code.trim().toLowerCase());
    if (!policyId) throw new DomainError("CODE_NOT_FOUND", "No policy has this code");
    return this.issue(policyId, userId, "CODE", clientIp);
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
