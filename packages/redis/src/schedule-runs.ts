// The last run of each scheduled job, kept in Redis so any gateway can show it. One hash per job:
// the last run's fields plus a counter per outcome (runs:ok, runs:failed, runs:skipped).
import type { KeySpace } from "./keys.js";
import type { RedisClient } from "./scripts.js";

export type RunOutcome = "ok" | "failed" | "skipped";

export interface ScheduleRun {
  startedAt: string;
  finishedAt: string;
  outcome: RunOutcome;
  /** counts the job reports (e.g. {expired: 12}); an error message when it failed */
  result: Record<string, number | string>;
}

export interface ScheduleRunCounts {
  ok: number;
  failed: number;
  skipped: number;
}

export async function recordScheduleRun(redis: RedisClient, keys: KeySpace, name: string, run: ScheduleRun): Promise<void> {
  const key = keys.scheduleRuns(name);
  await redis
    .multi()
    .hset(key, {
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      outcome: run.outcome,
      result: JSON.stringify(run.result),
    })
    .hincrby(key, `runs:${run.outcome}`, 1)
    .exec();
}

export async function readScheduleRun(
  redis: RedisClient,
  keys: KeySpace,
  name: string,
): Promise<{ last: ScheduleRun | null; counts: ScheduleRunCounts }> {
  const h = await redis.hgetall(keys.scheduleRuns(name));
  const counts = {
    ok: Number(h["runs:ok"] ?? 0),
    failed: Number(h["runs:failed"] ?? 0),
    skipped: Number(h["runs:skipped"] ?? 0),
  };
  if (!h.startedAt || !h.finishedAt || !h.outcome) return { last: null, counts };
  let result: Record<string, number | string> = {};
  try {
    result = JSON.parse(h.result ?? "{}") as Record<string, number | string>;
  } catch {
    // A hand-edited or truncated hash: show the run without its counts.
  }
  return {
    last: { startedAt: h.startedAt, finishedAt: h.finishedAt, outcome: h.outcome as RunOutcome, result },
    counts,
  };
}
