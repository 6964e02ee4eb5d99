// Runs one scheduled job body at most once at a time across every worker: the body runs under a
// PostgreSQL advisory lock named for the job (and the deployment's key prefix), and a worker that
// finds the lock taken skips the run. BullMQ's scheduler already adds one job per tick, but a
// manual run, a tick that overlaps a long run, or a stalled job retried elsewhere could otherwise
// run the same body twice at once. Every run, skipped ones included, is recorded in Redis.
import { tryAdvisoryLock } from "@coupon/db/lock";
import { recordScheduleRun, type KeySpace, type RedisClient, type RunOutcome } from "@coupon/redis";
import type { Logger, WorkerMetrics } from "@coupon/telemetry";

export type RunResult = Record<string, number>;

export interface ScheduledRunDeps {
  databaseUrl: string;
  redis: RedisClient;
  keys: KeySpace;
  metrics: WorkerMetrics;
  log: Logger;
}

/**
 * Runs `body` and records the run. exclusive: under the job's advisory lock, skipped when another
 * worker holds it. Recovery runs unlocked: it ticks every few seconds and is idempotent by itself
 * (one job id per chunk and grace period), so a PostgreSQL session per tick would buy nothing.
 */
export async function runScheduled(
  deps: ScheduledRunDeps,
  name: string,
  body: () => Promise<RunResult>,
  opts: { exclusive: boolean },
): Promise<{ outcome: RunOutcome; result: RunResult }> {
  const startedAt = new Date();
  const record = async (outcome: RunOutcome, result: Record<string, number | string>) => {
    deps.metrics.schedulerRuns.inc({ name, outcome });
    await recordScheduleRun(deps.redis, deps.keys, name, {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      outcome,
      result,
    });
  };
  const lock = opts.exclusive ? await tryAdvisoryLock(deps.databaseUrl, `${deps.keys.prefix}:${name}`) : null;
  if (opts.exclusive && !lock) {
    deps.log.info({ job: name }, "scheduled job skipped: another worker is running it");
    await record("skipped", {});
    return { outcome: "skipped", result: {} };
  }
  try {
    const result = await body();
    deps.metrics.schedulerLastSuccess.set({ name }, Date.now() / 1000);
    await record("ok", result);
    return { outcome: "ok", result };
  } catch (err) {
    await record("failed", { error: err instanceof Error ? err.message : String(err) }).catch(() => {});
    throw err;
  } finally {
    await lock?.release();
  }
}
