// Before any benchmark: the built apps, wrk, Redis and PostgreSQL are there.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { adminUrl } from "./database.mjs";
import { redisUrl } from "./redis-prefix.mjs";
import { WRK } from "./wrk.mjs";

export async function checkEnvironment(root) {
  for (const f of ["apps/gateway/dist/server.js", "apps/worker/dist/main.js", "packages/db/dist/migrate.js"]) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing: run \`pnpm build\` first`);
  }
  const wrk = spawnSync(WRK, ["--version"], { encoding: "utf8" });
  if (wrk.error) throw new Error(`wrk not found (${WRK}): install wrk 4.x or set BENCH_WRK`);
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis at ${redisUrl()} does not answer (${err.message}); set BENCH_REDIS_URL`);
  } finally {
    redis.disconnect();
  }
  const client = new pg.Client({ connectionString: adminUrl() });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (err) {
    throw new Error(`PostgreSQL at ${adminUrl()} does not answer (${err.message}); set BENCH_PG_ADMIN_URL`);
  } finally {
    await client.end().catch(() => {});
  }
}
