// The worker process: persists admissions, recovers the ones that never reached the queue, relays
// the outbox to the event stream, serves metrics. SIGTERM stops taking jobs and relaying, lets the
// running jobs and the relay batch in flight finish, then closes every connection.
import { Queue, Worker } from "bullmq";
import { ConfigError, loadConfig } from "@coupon/config";
import { createPrismaClient } from "@coupon/db/client";
import { ISSUE_QUEUE, MAINTENANCE_QUEUE, RECOVER_JOB, createIssueQueue } from "@coupon/queue";
import { KeySpace, createRedisClient, withScripts } from "@coupon/redis";
import { createLogger, createRegistry, workerMetrics } from "@coupon/telemetry";
import { persistAdmissionsProcessor } from "./processors/persist-admissions.js";
import { recoverAdmissions } from "./processors/recover-admissions.js";
import { startOutboxRelay } from "./processors/relay-outbox.js";
import { startMetricsServer } from "./metrics-server.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger("worker", config.LOG_LEVEL);
  const keys = new KeySpace(config.REDIS_PREFIX);
  const registry = createRegistry("worker");
  const metrics = workerMetrics(registry);

  const redis = withScripts(createRedisClient(config.REDIS_URL, { name: "worker" }));
  const bullConnection = createRedisClient(config.REDIS_URL, { forWorker: true, name: "worker-bullmq" });
  const prisma = createPrismaClient(config.DATABASE_URL, { poolSize: config.DB_POOL_SIZE });
  const prefix = keys.queuePrefix();
  const issueQueue = createIssueQueue(bullConnection, prefix);
  const maintenanceQueue = new Queue(MAINTENANCE_QUEUE, { connection: bullConnection, prefix });

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
  const maintenanceWorker = new Worker(
    MAINTENANCE_QUEUE,
    (job) =>
      timed(MAINTENANCE_QUEUE, job.name, async () => {
        if (job.name !== RECOVER_JOB) throw new Error(`unknown maintenance job ${job.name}`);
        return recoverAdmissions({
          redis,
          keys,
          issueQueue,
          graceMs: config.RECOVERY_GRACE_MS,
          batchMax: config.ISSUE_BATCH_MAX,
          metrics,
          log,
        });
      })(),
    { connection: bullConnection, prefix, concurrency: 1 },
  );
  for (const w of [issueWorker, maintenanceWorker]) {
    w.on("failed", (job, err) => log.error({ jobId: job?.id, queue: w.name, err }, "job failed"));
    w.on("error", (err) => log.error({ err, queue: w.name }, "worker error"));
  }
  // A job scheduler runs one job per tick however many workers upsert it.
  await maintenanceQueue.upsertJobScheduler(RECOVER_JOB, { every: config.RECOVERY_EVERY_MS }, { name: RECOVER_JOB });

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

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: finishing running jobs");
    const force = setTimeout(() => {
      log.error("shutdown timed out; exiting");
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    try {
      await Promise.all([issueWorker.close(), maintenanceWorker.close(), relay.stop()]);
      await Promise.all([issueQueue.close(), maintenanceQueue.close()]);
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
