// Redis connections, to a single Redis or to a Redis Cluster: configuration decides, and every
// caller gets the same client type. Commands issued in the same event-loop turn are sent as one
// pipeline (auto-pipelining; per node on a cluster): under a stampede that turns thousands of
// round trips into a few writes.
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisClient } from "./scripts.js";

export interface ClusterNode {
  host: string;
  port: number;
}

/** Where Redis is: the validated configuration's two fields (see @coupon/config). */
export interface RedisTarget {
  REDIS_URL: string;
  /** set: a Redis Cluster seeded by these nodes; REDIS_URL then gives only user, password and TLS */
  REDIS_CLUSTER_NODES?: readonly ClusterNode[] | undefined;
}

export interface ConnectionOptions {
  /** BullMQ workers block on Redis and need commands that never give up retrying */
  forWorker?: boolean;
  name?: string;
}

export function createRedisClient(target: string | RedisTarget, opts: ConnectionOptions = {}): RedisClient {
  const url = typeof target === "string" ? target : target.REDIS_URL;
  const nodes = typeof target === "string" ? undefined : target.REDIS_CLUSTER_NODES;
  const common: RedisOptions = {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.forWorker ? null : 2,
  };
  if (!nodes || nodes.length === 0) {
    return new Redis(url, { ...common, enableAutoPipelining: !opts.forWorker, lazyConnect: false });
  }
  const u = new URL(url);
  return new Cluster(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      enableAutoPipelining: !opts.forWorker,
      // Every read goes to the master that owns the slot: replicas lag, and stock must not.
      scaleReads: "master",
      lazyConnect: false,
      redisOptions: {
        ...common,
        username: u.username ? decodeURIComponent(u.username) : undefined,
        password: u.password ? decodeURIComponent(u.password) : undefined,
        tls: u.protocol === "rediss:" ? {} : undefined,
      },
    },
  );
}
