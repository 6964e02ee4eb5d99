// Redis connections. Commands issued in the same event-loop turn are sent as one pipeline
// (auto-pipelining): under a stampede that turns thousands of round trips into a few writes.
import { Redis } from "ioredis";

export interface ConnectionOptions {
  /** BullMQ workers block on Redis and need commands that never give up retrying */
  forWorker?: boolean;
  name?: string;
}

export function createRedisClient(url: string, opts: ConnectionOptions = {}): Redis {
  return new Redis(url, {
    connectionName: opts.name,
    enableAutoPipelining: !opts.forWorker,
    maxRetriesPerRequest: opts.forWorker ? null : 2,
    lazyConnect: false,
  });
}
