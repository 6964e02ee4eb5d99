// Finds DIRECT batches that were stored but whose job never reached the queue (a gateway killed
// between its commit and its enqueue) and enqueues them. The job id is derived from the batch id,
// so a batch whose job exists (waiting, running, retrying) gets nothing added. Only batches this
// deployment stored (same REDIS_PREFIX) are looked at: a worker of another deployment sharing the
// database would otherwise find them jobless on its own queue and issue them against its own Redis.
import type { Queue } from "bullmq";
import type { PrismaClient } from "@coupon/db/client";
import { enqueueDirectBatch, type DirectBatchJobData } from "@coupon/queue";
import type { Logger } from "@coupon/telemetry";

export async function recoverBatches(
  prisma: PrismaClient,
  queue: Queue<DirectBatchJobData>,
  queuePrefix: string,
  graceMs: number,
  log: Logger,
): Promise<number> {
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    SELECT id::text AS id FROM direct_batches
    WHERE state IN ('QUEUED', 'RUNNING') AND queue_prefix = ${queuePrefix} AND created_at < now() - make_interval(secs => ${graceMs / 1000}::float8)
    ORDER BY id LIMIT 1000`;
  let added = 0;
  for (const { id } of rows) {
    const job = await queue.getJob(`batch-${id}`);
    if (job) continue;
    await enqueueDirectBatch(queue, id);
    added++;
  }
  if (added > 0) log.warn({ batches: added }, "enqueued stored DIRECT batches that had no job");
  return added;
}
