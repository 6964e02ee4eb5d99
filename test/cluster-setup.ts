// Global setup of the cluster run (vitest.cluster.config.ts): one three-master Redis Cluster for
// the whole run; every test file's gateway, worker and assertions then reach Redis through it
// (test/support/env.ts passes TEST_REDIS_CLUSTER_NODES on as REDIS_CLUSTER_NODES).
import { freePort } from "./support/processes.js";
import { startRedisCluster } from "./support/redis-cluster.js";

export default async function setup(): Promise<() => Promise<void>> {
  const cluster = await startRedisCluster(3);
  process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodes;
  // In cluster mode REDIS_URL only lends its credentials. Pointing it where nothing listens makes
  // any connection that ignored the cluster setting fail the run instead of quietly passing on
  // the single Redis.
  process.env.TEST_REDIS_URL = `redis://127.0.0.1:${await freePort()}`;
  return () => cluster.stop();
}
