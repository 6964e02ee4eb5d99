// Finds admissions that Redis recorded but that never reached the queue (a gateway killed between
// its Lua call and its enqueue, or an enqueue that failed) and enqueues them again. Persistence is
// idempotent, so an admission that was merely slow is at worst recorded once and settled twice.
import type { Queue } from "bullmq";
import { PERSIST_JOB, type PersistJobData } from "@coupon/queue";
import { stalePending, watchedPolicyIds, type KeySpace, type RedisClient } from "@coupon/redis";
import type { Logger, WorkerMetrics } from "@coupon/telemetry";

export interface RecoverDeps {
  redis: RedisClient;
  keys: KeySpace;
  issueQueue: Queue<PersistJobData>;
  graceMs: number;
  batchMax: number;
  metrics: WorkerMetrics;
  log: Logger;
}

export async function recoverAdmissions(deps: RecoverDeps): Promise<number> {
  const [sec, micro] = await deps.redis.time();
  const nowMs = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
  const cutoff = nowMs - deps.graceMs;
  let recovered = 0;
  for (const policyId of await watchedPolicyIds(deps.redis, deps.keys)) {
    const stale = await stalePending(deps.redis, deps.keys, policyId, cutoff, deps.batchMax * 10);
    for (let i = 0; i < stale.length; i += deps.batchMax) {
      const admissions = stale.slice(i, i + deps.batchMax);
      const first = admissions[0]?.requestId ?? "";
      // One job id per chunk and grace period: a second sweep before this job ran adds nothing.
      const jobId = `recover-${policyId}-${first}-${Math.floor(nowMs / deps.graceMs)}`;
      await deps.issueQueue.add(PERSIST_JOB, { admissions }, { jobId });
      recovered += admissions.length;
    }
  }
  if (recovered > 0) {
    deps.metrics.recovered.inc(recovered);
    deps.log.warn({ recovered }, "re-enqueued admissions that were not recorded in time");
  }
  return recovered;
}
