// A Redis key prefix of the benchmark's own, and the removal of every key under it.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

export function redisUrl() {
  return process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
}

export function newPrefix(bench) {
  return `bench-${bench}-${randomBytes(4).toString("hex")}`;
}

export async function deletePrefix(prefix) {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 2 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** Prefixes of benchmark runs that were killed before they cleaned up (`--cleanup`). */
export async function leftoverPrefixes() {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 2 });
  const found = new Set();
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", "bench-*", "COUNT", 1000);
      cursor = next;
      for (const k of keys) {
        const m = /^(bench-[a-z-]+-[0-9a-f]{8}):/.exec(k);
        if (m) found.add(m[1]);
      }
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return [...found];
}
