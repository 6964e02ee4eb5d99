// The producer side of the issue queue.
import { Queue, type JobsOptions } from "bullmq";
import type { Cluster, Redis } from "ioredis";
import { ISSUE_QUEUE, PERSIST_JOB, type AdmissionRecord, type PersistJobData } from "./contracts.js";

export const PERSIST_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: "exponential", delay: 200 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 5000 },
};

export function createIssueQueue(connection: Redis | Cluster, prefix: string): Queue<PersistJobData> {
  return new Queue<PersistJobData>(ISSUE_QUEUE, { connection, prefix, defaultJobOptions: PERSIST_JOB_OPTIONS });
}

/** Told the admissions of a job that could not be enqueued, and why. */
export type EnqueueFailureListener = (admissions: readonly AdmissionRecord[], err: unknown) => void;

/**
 * Collects the admissions of a short window (or of one event-loop turn when windowMs is 0) into
 * one persistence job, so that a burst costs one enqueue per few hundred winners instead of one
 * per winner, and the worker writes big batches. Admissions are durable in Redis (pending) before
 * they get here, so the window delays persistence, never the answer; a job that cannot be
 * enqueued, or a gateway that dies with a full buffer, loses nobody: recovery enqueues them again.
 * Nothing is allocated per admission but its place in the buffer: a failed job is reported once,
 * to the failure listener.
 */
export class AdmissionBatcher {
  private buffer: AdmissionRecord[] = [];
  private scheduled = false;
  private inFlight = new Set<Promise<void>>();
  private failed: EnqueueFailureListener = () => {};

  constructor(
    private readonly queue: Queue<PersistJobData>,
    private readonly maxBatch: number,
    private readonly windowMs = 0,
  ) {}

  /** Who hears of the admissions whose job could not be enqueued (one listener; the last set wins). */
  onFailure(listener: EnqueueFailureListener): void {
    this.failed = listener;
  }

  add(admission: AdmissionRecord): void {
    this.buffer.push(admission);
    if (this.buffer.length >= this.maxBatch) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      if (this.windowMs > 0) setTimeout(() => this.flush(), this.windowMs);
      else setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.buffer.length === 0) return;
    const admissions = this.buffer;
    this.buffer = [];
    const p: Promise<void> = this.queue
      .add(PERSIST_JOB, { admissions })
      .then(
        () => undefined,
        (err: unknown) => this.failed(admissions, err),
      )
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Sends what is buffered and waits for every enqueue under way (graceful shutdown). */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }
}
