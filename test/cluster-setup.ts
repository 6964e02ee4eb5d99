// Global setup of the cluster run (vitest.cluster.config.ts): one three-master Redis Cluster for
// the whole run; every test file's gateway, worker and assertions then reach Redis through it
// (test/support/env.ts passes TEST_REDIS_CLUSTER_NODES on as REDIS_CLUSTER_NODES).
import { startRedisCluster } from "./support/redis-cluster.js";

export default async function setup(): Promise<() => Promise<void>> {
  const cluster = await startRedisCluster(3);
  process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodes;
  return () => cluster.stop();
}
