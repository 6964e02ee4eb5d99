// The issue queue's processor: parse the job, record each policy's admissions in PostgreSQL, then
// settle them in Redis (forget the recorded ones, give back what failed ones held). Redis comes
// second: if the worker dies in between, the retry finds the requests recorded and settles again.
import { UnrecoverableError, type Job } from "bullmq";
import type { PrismaClient } from "@coupon/db/client";
import { parsePersistJob, type AdmissionRecord } from "@coupon/queue";
import { completeAdmissions, invalidateCouponCache, releaseAdmission, type KeySpace, type ScriptedClient } from "@coupon/redis";
import type { Logger, WorkerMetrics } from "@coupon/telemetry";
import { persistAdmissions, type Outcome } from "../persistence/issue-coupons.js";
import { ValidityCache } from "../persistence/validity-cache.js";

export interface PersistDeps {
  prisma: PrismaClient;
  redis: ScriptedClient;
  keys: KeySpace;
  metrics: WorkerMetrics;
  log: Logger;
}

export function persistAdmissionsProcessor(deps: PersistDeps) {
  const validity = new ValidityCache(deps.prisma);
  const lockOutcomes = { acquired: deps.metrics.policyLocks.labels("acquired"), failed: deps.metrics.policyLocks.labels("failed") };
  const onLock = (outcome: "acquired" | "failed") => lockOutcomes[outcome].inc();
  return async (job: Job): Promise<{ issued: number; failed: number }> => {
    const data = parsePersistJob(job.data);
    if (!data) throw new UnrecoverableError("persist job payload is not valid");
    const byPolicy = new Map<string, AdmissionRecord[]>();
    for (const a of data.admissions) {
      const list = byPolicy.get(a.policyId) ?? [];
      list.push(a);
      byPolicy.set(a.policyId, list);
    }
    let issued = 0;
    let failed = 0;
    for (const [policyId, admissions] of byPolicy) {
      const result = await persistAdmissions(deps.prisma, policyId, admissions, await validity.get(policyId), onLock);
      await settleInRedis(deps, policyId, result.outcomes);
      const now = Date.now();
      deps.metrics.persisted.inc({ way: "admission" }, result.inserted);
      for (const o of result.outcomes) {
        // One line per admission, with the requestId the gateway logged when it admitted it.
        if (o.status === "ISSUED") {
          issued++;
          deps.metrics.persistSeconds.observe(Math.max(0, now - o.admittedAt) / 1000);
          deps.log.info({ requestId: o.requestId, jobId: job.id, status: o.status }, "admission persisted");
        } else {
          failed++;
          deps.metrics.failed.inc({ reason: o.reason });
          deps.log.warn({ requestId: o.requestId, jobId: job.id, status: o.status, reason: o.reason }, "admission failed");
        }
      }
      if (result.outcomes.some((o) => o.status === "FAILED")) {
        deps.log.warn(
          { jobId: job.id, policyId, failed: result.outcomes.filter((o) => o.status === "FAILED").length },
          "admitted requests recorded as FAILED",
        );
      }
    }
    deps.log.debug({ jobId: job.id, issued, failed }, "persisted admissions");
    return { issued, failed };
  };
}

async function settleInRedis(deps: PersistDeps, policyId: string, outcomes: Outcome[]): Promise<void> {
  const issued = outcomes.filter((o) => o.status === "ISSUED");
  // Their coupon lists changed: cached pages must not be served again.
  await invalidateCouponCache(deps.redis, deps.keys, issued.map((o) => o.userId));
  await completeAdmissions(deps.redis, deps.keys, policyId, issued.map((o) => o.requestId));
  for (const o of outcomes) {
    if (o.status !== "FAILED") continue;
    // Sold out in PostgreSQL means there is no stock to give back; any other failure frees its unit.
    await releaseAdmission(deps.redis, deps.keys, { policyId, requestId: o.requestId, userId: o.userId }, o.reason !== "SOLD_OUT");
  }
}
