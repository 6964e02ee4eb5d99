// The DIRECT batch queue's processor: one job per batch, issuing chunk after chunk until none is
// left or an admin cancelled it. A job whose worker died is retried by BullMQ (stalled) and picks
// up at the first chunk not done; what a chunk did is committed whole or not at all.
import { UnrecoverableError, type Job } from "bullmq";
import type { PrismaClient } from "@coupon/db/client";
import { batchSecondsLeft, type DirectBatchState } from "@coupon/domain";
import { rebuildPolicyFromPostgres } from "@coupon/policy-state";
import { parseDirectBatchJob } from "@coupon/queue";
import { invalidateCouponCache, settleDirectChunk, type KeySpace, type ScriptedClient } from "@coupon/redis";
import type { Logger, WorkerMetrics } from "@coupon/telemetry";
import { issueDirectChunk } from "../persistence/issue-direct-chunk.js";

export interface DirectBatchDeps {
  prisma: PrismaClient;
  redis: ScriptedClient;
  keys: KeySpace;
  metrics: WorkerMetrics;
  log: Logger;
  /** true once the worker is shutting down: the batch stops between chunks and resumes elsewhere */
  stopping: () => boolean;
}

const LOG_EVERY_MS = 5000;

export function directBatchProcessor(deps: DirectBatchDeps) {
  const { prisma, redis, keys, metrics, log } = deps;
  return async (job: Job): Promise<{ state: DirectBatchState; processed: number }> => {
    const data = parseDirectBatchJob(job.data);
    if (!data) throw new UnrecoverableError("direct batch job payload is not valid");
    const { batchId } = data;

    const [batch] = await prisma.$queryRaw<{ policy_id: string; processed: number; total_requested: number; started_at: Date }[]>`
      UPDATE direct_batches SET state = 'RUNNING', started_at = COALESCE(started_at, now())
      WHERE id = ${batchId}::bigint AND state IN ('QUEUED', 'RUNNING')
      RETURNING policy_id::text AS policy_id, processed, total_requested, started_at`;
    if (!batch) {
      log.info({ batchId }, "batch already finished; nothing to do");
      return { state: "COMPLETED", processed: 0 };
    }
    const policyId = batch.policy_id;
    const startedAt = Date.now();
    const startProcessed = batch.processed;
    let processed = batch.processed;
    let lastLog = startedAt;
    log.info({ batchId, policyId, processed, total: batch.total_requested }, "batch running");
    let remainingShown = batch.total_requested - processed;
    metrics.batchRemaining.inc(remainingShown);

    const finish = async (state: DirectBatchState) => {
      const [row] = await prisma.$queryRaw<{ state: DirectBatchState }[]>`
        UPDATE direct_batches SET state = ${state}::"DirectBatchState", finished_at = now()
        WHERE id = ${batchId}::bigint AND state IN ('QUEUED', 'RUNNING')
        RETURNING state::text AS state`;
      if (row) metrics.batchesFinished.inc({ state });
      const seconds = (Date.now() - startedAt) / 1000;
      log.info({ batchId, policyId, state, processed, seconds, usersPerSecond: Math.round((processed - startProcessed) / Math.max(seconds, 0.001)) }, "batch finished");
      return { state, processed };
    };

    try {
      // A cancel that came while the batch waited in the queue.
      const [flag] = await prisma.$queryRaw<{ cancel_requested: boolean }[]>`
        SELECT cancel_requested FROM direct_batches WHERE id = ${batchId}::bigint`;
      if (flag?.cancel_requested) return await finish("CANCELLED");

      for (;;) {
        // Failing the attempt (not completing the job) hands the batch to the next worker.
        if (deps.stopping()) throw new Error(`worker shutting down; batch ${batchId} resumes at its next chunk`);
        const end = metrics.batchChunkSeconds.startTimer();
        const result = await issueDirectChunk(prisma, redis, keys, batchId, policyId);
        if (result.kind === "no-chunk-left") return await finish("COMPLETED");
        if (result.kind === "policy-not-found") {
          log.error({ batchId, policyId }, "the batch's policy is gone");
          return await finish("FAILED");
        }
        if (result.kind === "policy-not-in-redis") {
          log.warn({ batchId, policyId }, "Redis lost the batch's policy; rebuilding it from PostgreSQL");
          await rebuildPolicyFromPostgres(prisma, redis, keys, BigInt(policyId));
          continue;
        }
        const o = result.outcome;
        // After the commit: give back what the chunk took but did not use, then let the users'
        // coupon lists show the new coupons.
        await settleDirectChunk(redis, keys, policyId, batchId, o.chunkNo, o.unused);
        await invalidateCouponCache(redis, keys, o.issued);
        end();

        const settled = o.processed - processed;
        processed = o.processed;
        metrics.batchRemaining.dec(settled);
        remainingShown -= settled;
        metrics.batchUsers.inc({ outcome: "ISSUED" }, o.issued.length);
        metrics.persisted.inc({ way: "direct" }, o.issued.length);
        for (const [reason, n] of o.failures) metrics.batchUsers.inc({ outcome: reason }, n);
        await job.updateProgress({ processed, total: o.totalRequested });

        const now = Date.now();
        if (now - lastLog >= LOG_EVERY_MS) {
          lastLog = now;
          const done = processed - startProcessed;
          log.info(
            {
              batchId,
              processed,
              total: o.totalRequested,
              usersPerSecond: Math.round((done * 1000) / (now - startedAt)),
              secondsLeft: batchSecondsLeft(o.totalRequested - processed, done, now - startedAt),
            },
            "batch progress",
          );
        }
        if (o.cancelRequested) return await finish("CANCELLED");
      }
    } finally {
      metrics.batchRemaining.dec(remainingShown);
    }
  };
}

/** A batch whose job used up its attempts: FAILED, so it does not read RUNNING forever. */
export async function markBatchFailed(prisma: PrismaClient, job: Job | undefined, log: Logger): Promise<void> {
  if (!job) return;
  const data = parseDirectBatchJob(job.data);
  if (!data || job.attemptsMade < (job.opts.attempts ?? 1)) return;
  await prisma.$executeRaw`
    UPDATE direct_batches SET state = 'FAILED', finished_at = now()
    WHERE id = ${data.batchId}::bigint AND state IN ('QUEUED', 'RUNNING')`;
  log.error({ batchId: data.batchId, attempts: job.attemptsMade }, "batch FAILED: its job used up its attempts");
}
