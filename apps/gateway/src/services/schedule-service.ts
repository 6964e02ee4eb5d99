// The maintenance schedules as an admin sees them: what BullMQ's job schedulers hold (pattern or
// interval, next run) and the last run the workers recorded in Redis. Running one now adds a
// one-off job to the maintenance queue; the worker runs it under the same lock as a scheduled one.
import { DomainError } from "@coupon/domain";
import { SCHEDULED_JOBS, isScheduledJob, type ScheduledJob } from "@coupon/queue";
import { readScheduleRun, type KeySpace, type RedisClient, type ScheduleRun, type ScheduleRunCounts } from "@coupon/redis";
import type { Queue } from "bullmq";

export interface ScheduleView {
  name: ScheduledJob;
  /** cron pattern, or null for an interval schedule (or one no worker has registered yet) */
  pattern: string | null;
  /** interval in ms, or null for a cron schedule */
  every: number | null;
  /** when the scheduler's next job is due; null until a worker registered the schedule */
  nextRunAt: string | null;
  lastRun: ScheduleRun | null;
  runs: ScheduleRunCounts;
}

export class ScheduleService {
  constructor(
    private readonly queue: Queue,
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
  ) {}

  async list(): Promise<ScheduleView[]> {
    return Promise.all(
      SCHEDULED_JOBS.map(async (name) => {
        const [scheduler, run] = await Promise.all([
          this.queue.getJobScheduler(name),
          readScheduleRun(this.redis, this.keys, name),
        ]);
        return {
          name,
          pattern: scheduler?.pattern ?? null,
          every: scheduler?.every === undefined || scheduler.every === null ? null : Number(scheduler.every),
          nextRunAt: scheduler?.next ? new Date(Number(scheduler.next)).toISOString() : null,
          lastRun: run.last,
          runs: run.counts,
        };
      }),
    );
  }

  /** Queues one run of the named job now; returns the BullMQ job id. */
  async runNow(name: string): Promise<string> {
    if (!isScheduledJob(name)) throw new DomainError("SCHEDULE_NOT_FOUND", `No schedule named ${name}`);
    const job = await this.queue.add(name, { manual: true }, { removeOnComplete: 1000, removeOnFail: 1000 });
    if (!job.id) throw new Error("the queue returned no job id");
    return job.id;
  }
}
