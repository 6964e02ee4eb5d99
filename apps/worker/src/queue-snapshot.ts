// Reads each queue's depth per state and the age of its oldest waiting job for the metrics
// collector: one getJobCounts and two small reads per queue, whatever the backlog.
import type { Queue } from "bullmq";
import type { QueueSnapshot } from "@coupon/telemetry";

const STATES = ["waiting", "active", "delayed", "prioritized", "waiting-children", "failed", "completed"] as const;

/** The two plain reads needed, which a single Redis and a Cluster connection both offer. */
export interface ListReader {
  lindex(key: string, index: number): Promise<string | null>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
}

/** Jobs are pushed on the left of the wait list and taken from the right: the oldest is last. */
async function oldestWaitingAgeSeconds(client: ListReader, queue: Queue, now: number): Promise<number> {
  const id = await client.lindex(queue.toKey("wait"), -1);
  if (!id) return 0;
  const [timestamp, delay] = await client.hmget(queue.toKey(id), "timestamp", "delay");
  // A delayed job (a retry's backoff) only became due at timestamp + delay.
  const due = Number(timestamp) + (Number(delay) || 0);
  return Number.isFinite(due) && due > 0 ? Math.max(0, now - due) / 1000 : 0;
}

export function queueSnapshot(client: ListReader, queues: Queue[]): () => Promise<QueueSnapshot[]> {
  return () =>
    Promise.all(
      queues.map(async (queue) => {
        const [counts, age] = await Promise.all([queue.getJobCounts(...STATES), oldestWaitingAgeSeconds(client, queue, Date.now())]);
        return { queue: queue.name, counts, oldestWaitingAgeSeconds: age };
      }),
    );
}
