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

/**
 * Collects the admissions of a short window (or of one event-loop turn when windowMs is 0) into
 * one persistence job, so that a burst costs one enqueue per few hundred winners instead of one
 * per winner, and the worker writes big batches. `add` resolves once the admission's job is in
 * Redis. Admissions are durable in Redis before they get here, so the window delays persistence,
 * never the answer, and a gateway that dies with a full buffer loses nobody (recovery).
 */
export class AdmissionBatcher {
  private buffer: AdmissionRecord[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = new Set<Promise<void>>();

  constructor(
    private readonly queue: Queue<PersistJobData>,
    private readonly maxBatch: number,
    private readonly windowMs = 0,
  ) {}

  add(admission: AdmissionRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.buffer.push(admission);
      this.waiters.push({ resolve, reject });
      if (this.buffer.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        if (this.windowMs > 0) setTimeout(() => this.flush(), this.windowMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.buffer.length === 0) return;
    const admissions = this.buffer;
    const waiters = this.waiters;
    this.buffer = [];
    this.waiters = [];
    const p = this.queue
      .add(PERSIST_JOB, { admissions })
      .then(
        () => waiters.forEach((w) => w.resolve()),
        (err: unknown) => waiters.forEach((w) => w.reject(err)),
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
