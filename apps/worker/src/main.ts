// The worker process: persists admissions, recovers the ones that never reached the queue, relays
// the outbox to the event stream, serves metrics. SIGTERM stops taking jobs and relaying, lets the
// running jobs and the relay batch in flight finish, then closes every connection.
import { Queue, Worker } from "bullmq";
import { ConfigError, loadConfig } from "@coupon/config";
import { createPrismaClient } from "@coupon/db/client";
import {
  DIRECT_BATCH_QUEUE,
  EXPIRY_JOB,
  ISSUE_QUEUE,
  MAINTENANCE_QUEUE,
  RECONCILE_JOB,
  RECOVER_JOB,
  RELEASE_JOB,
  createDirectBatchQueue,
  createIssueQueue,
  isScheduledJob,
  type ScheduledJob,
} from "@coupon/queue";
import { KeySpace, createRedisClient, withScripts } from "@coupon/redis";
import { createLogger, createRegistry, queueMetrics, workerMetrics } from "@coupon/telemetry";
import { directBatchProcessor, markBatchFailed } from "./processors/direct-batch.js";
import { persistAdmissionsProcessor } from "./processors/persist-admissions.js";
import { recoverAdmissions } from "./processors/recover-admissions.js";
import { recoverBatches } from "./processors/recover-batches.js";
import { startOutboxRelay } from "./processors/relay-outbox.js";
import { expireCoupons, releaseStaleReservations } from "./processors/batch-jobs.js";
import { reconcilePolicies } from "./processors/reconcile-policies.js";
import { runScheduled, type RunResult } from "./processors/scheduled-run.js";
import { startMetricsServer } from "./metrics-server.js";
import { queueSnapshot } from "./queue-snapshot.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger("worker", config.LOG_LEVEL);
  const keys = new KeySpace(config.REDIS_PREFIX);
  const registry = createRegistry("worker");
  const metrics = workerMetrics(registry);

  const redis = withScripts(createRedisClient(config, { name: "worker" }));
  const bullConnection = createRedisClient(config, { forWorker: true, name: "worker-bullmq" });
  const prisma = createPrismaClient(config.DATABASE_URL, { poolSize: config.DB_POOL_SIZE });
  const prefix = keys.queuePrefix();
  const issueQueue = createIssueQueue(bullConnection, prefix);
  const maintenanceQueue = new Queue(MAINTENANCE_QUEUE, { connection: bullConnection, prefix });
  const directBatchQueue = createDirectBatchQueue(bullConnection, prefix);
  // Every worker exports the same figures; dashboards and alerts take max() over workers.
  queueMetrics(registry, queueSnapshot(bullConnection, [issueQueue, maintenanceQueue, directBatchQueue]));

  const timed = <T>(queue: string, name: string, fn: () => Promise<T>) => async (): Promise<T> => {
    const end = metrics.jobSeconds.startTimer({ queue, name });
    try {
      return await fn();
    } catch (err) {
      metrics.jobFailures.inc({ queue, name });
      throw err;
    } finally {
      end();
    }
  };

  const persist = persistAdmissionsProcessor({ prisma, redis, keys, metrics, log });
  const issueWorker = new Worker(ISSUE_QUEUE, (job) => timed(ISSUE_QUEUE, job.name, () => persist(job))(), {
    connection: bullConnection,
    prefix,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
  });
  let stopping = false;
  const runBatch = directBatchProcessor({ prisma, redis, keys, metrics, log, stopping: () => stopping });
  const batchWorker = new Worker(DIRECT_BATCH_QUEUE, (job) => timed(DIRECT_BATCH_QUEUE, job.name, () => runBatch(job))(), {
    connection: bullConnection,
    prefix,
    concurrency: config.DIRECT_BATCH_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    // A batch's job holds its lock for minutes: a stall is a dead worker, never a slow one.
    maxStalledCount: 100,
  });
  batchWorker.on("failed", (job) => {
    markBatchFailed(prisma, job, log).catch((err: unknown) => log.error({ err, jobId: job?.id }, "could not mark the batch FAILED"));
  });
  const recover = (): Promise<number> =>
    recoverAdmissions({
      redis,
      keys,
      issueQueue,
      graceMs: config.RECOVERY_GRACE_MS,
      batchMax: config.ISSUE_BATCH_MAX,
      metrics,
      log,
    });
  const batchDeps = { prisma, redis, keys, batchSize: config.EXPIRY_BATCH, concurrency: config.EXPIRY_CONCURRENCY };
  const bodies: Record<ScheduledJob, () => Promise<RunResult>> = {
    [EXPIRY_JOB]: () => expireCoupons(batchDeps),
    [RELEASE_JOB]: () => releaseStaleReservations({ ...batchDeps, timeoutMs: config.RESERVATION_TIMEOUT_MS }),
    [RECONCILE_JOB]: () => reconcilePolicies({ prisma, redis, keys, metrics, log }),
    [RECOVER_JOB]: async () => ({
      recovered: await recover(),
      batches: await recoverBatches(prisma, directBatchQueue, keys.prefix, config.RECOVERY_GRACE_MS, log),
    }),
  };
  const runDeps = { databaseUrl: config.DATABASE_URL, redis, keys, metrics, log };
  const maintenanceWorker = new Worker(
    MAINTENANCE_QUEUE,
    (job) =>
      timed(MAINTENANCE_QUEUE, job.name, async () => {
        if (!isScheduledJob(job.name)) throw new Error(`unknown maintenance job ${job.name}`);
        const run = await runScheduled(runDeps, job.name, bodies[job.name], { exclusive: job.name !== RECOVER_JOB });
        // One line per run (about a dozen a minute at the defaults): which worker ran which tick, and how it ended.
        log.info({ job: job.name, jobId: job.id, outcome: run.outcome, result: run.result }, "scheduled job finished");
        return run;
      })(),
    // More than one so a long expiry run does not hold recovery back; a second run of the same
    // job on this worker finds the advisory lock taken like any other worker would.
    { connection: bullConnection, prefix, concurrency: 4 },
  );
  for (const w of [issueWorker, maintenanceWorker, batchWorker]) {
    w.on("failed", (job, err) => log.error({ jobId: job?.id, queue: w.name, err }, "job failed"));
    w.on("error", (err) => log.error({ err, queue: w.name }, "worker error"));
  }
  // A job scheduler runs one job per tick however many workers upsert it. Upserting again now and
  // then puts them back should Redis lose them (a restart without persistence, a FLUSHALL).
  const upsertSchedulers = async () => {
    await maintenanceQueue.upsertJobScheduler(RECOVER_JOB, { every: config.RECOVERY_EVERY_MS }, { name: RECOVER_JOB });
    await maintenanceQueue.upsertJobScheduler(EXPIRY_JOB, { pattern: config.EXPIRY_CRON }, { name: EXPIRY_JOB });
    await maintenanceQueue.upsertJobScheduler(RELEASE_JOB, { pattern: config.RESERVATION_RELEASE_CRON }, { name: RELEASE_JOB });
    await maintenanceQueue.upsertJobScheduler(RECONCILE_JOB, { pattern: config.RECONCILE_CRON }, { name: RECONCILE_JOB });
  };
  await upsertSchedulers();
  const schedulerRefresh = setInterval(() => {
    upsertSchedulers().catch((err: unknown) => log.error({ err }, "could not refresh the job schedulers"));
  }, config.SCHEDULER_REFRESH_MS);
  schedulerRefresh.unref();

  // Every worker runs a relay; an advisory lock lets one of them publish at a time.
  const relay = startOutboxRelay({
    prisma,
    redis,
    keys,
    metrics,
    log,
    batch: config.OUTBOX_BATCH,
    maxLen: config.OUTBOX_STREAM_MAXLEN,
    pollMs: config.OUTBOX_POLL_MS,
  });

  const server = await startMetricsServer(registry, config.WORKER_METRICS_PORT, async () => {
    await Promise.all([redis.ping(), prisma.$queryRaw`SELECT 1`]);
    return issueWorker.isRunning();
  });
  log.info({ metricsPort: config.WORKER_METRICS_PORT, concurrency: config.WORKER_CONCURRENCY }, "worker started");

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: finishing running jobs");
    const force = setTimeout(() => {
      log.error("shutdown timed out; exiting");
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    clearInterval(schedulerRefresh);
    try {
      await Promise.all([issueWorker.close(), maintenanceWorker.close(), batchWorker.close(), relay.stop()]);
      await Promise.all([issueQueue.close(), maintenanceQueue.close(), directBatchQueue.close()]);
      server.close();
      await prisma.$disconnect();
      await Promise.all([redis.quit(), bullConnection.quit()]);
      log.info("stopped");
      process.exit(0);
    } catch (err) {
      log.error({ err }, "error during shutdown");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`worker: ${err.message}\n`);
  } else {
    process.stderr.write(`worker: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
});
