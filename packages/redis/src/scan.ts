// Walking the keyspace by pattern, on a single Redis or a Redis Cluster. SCAN on a cluster client
// reaches one node only, so every master is walked in turn; a multi-key DEL there fails with
// CROSSSLOT unless all its keys share a slot, so keys are unlinked one by one (auto-pipelining
// still sends them together). For maintenance and tests, never for the request path.
import { Cluster } from "ioredis";
import type { RedisClient } from "./scripts.js";

/** Pages of keys matching `pattern`, from every master. A key may show up twice (SCAN's contract). */
export async function* scanKeys(redis: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes("master") : [redis];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== "0");
  }
}

/** Unlinks every key matching `pattern`; returns how many went. */
export async function deleteMatching(redis: RedisClient, pattern: string): Promise<number> {
  let n = 0;
  for await (const keys of scanKeys(redis, pattern)) {
    const removed = redis instanceof Cluster
      ? (await Promise.all(keys.map((k) => redis.unlink(k)))).reduce((a, b) => a + b, 0)
      : await redis.unlink(...keys);
    n += removed;
  }
  return n;
}
