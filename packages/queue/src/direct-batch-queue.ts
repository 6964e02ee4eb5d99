// The producer side of the DIRECT batch queue: one job per batch, its id derived from the batch's
// so that enqueueing the same batch again (a retried submission) adds nothing.
import { Queue, type JobsOptions } from "bullmq";
import type { Cluster, Redis } from "ioredis";
import { DIRECT_BATCH_JOB, DIRECT_BATCH_QUEUE, type DirectBatchJobData } from "./contracts.js";

export const DIRECT_BATCH_JOB_OPTIONS: JobsOptions = {
  attempts: 20,
  backoff: { type: "exponential", delay: 500 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 1000 },
};

export function createDirectBatchQueue(connection: Redis | Cluster, prefix: string): Queue<DirectBatchJobData> {
  return new Queue<DirectBatchJobData>(DIRECT_BATCH_QUEUE, { connection, prefix, defaultJobOptions: DIRECT_BATCH_JOB_OPTIONS });
}

export async function enqueueDirectBatch(queue: Queue<DirectBatchJobData>, batchId: string): Promise<void> {
  await queue.add(DIRECT_BATCH_JOB, { batchId }, { jobId: `batch-${batchId}` });
}
