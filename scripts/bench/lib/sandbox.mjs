// Everything one benchmark owns: a database, a Redis prefix, a JWT secret, a temp directory for
// token files, and the processes it started. close() releases all of it, also after a failure;
// closeAll() does the same for every open sandbox when the run is interrupted.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBenchDatabase, dropBenchDatabase, newDatabaseName } from "./database.mjs";
import { deletePrefix, newPrefix, redisUrl } from "./redis-prefix.mjs";

const open = new Set();

export async function openSandbox(bench, { keep = false, log = () => {} } = {}) {
  const prefix = newPrefix(bench);
  const dir = await mkdtemp(join(tmpdir(), `coupon-bench-${bench}-`));
  const procs = [];
  const sandbox = {
    bench,
    dir,
    prefix,
    database: null,
    env: {
      REDIS_URL: redisUrl(),
      REDIS_PREFIX: prefix,
      JWT_SECRET: randomBytes(32).toString("hex"),
      LOG_LEVEL: "warn",
      SHUTDOWN_TIMEOUT_MS: "8000",
      // wrk sends every user from 127.0.0.1: the per-address limit would answer most of it 429.
      // The per-user limit stays at its default (sold-out measures the default address limit too).
      RATE_LIMIT_IP_PER_SEC: "0",
    },
    /** Registers a process (or anything with stop()) to be stopped by close(). */
    track(proc) {
      procs.push(proc);
      return proc;
    },
    async close() {
      open.delete(sandbox);
      const problems = [];
      // Newest first: the load generator, then the apps, then the baseline.
      for (const p of procs.reverse()) {
        await p.stop().catch((e) => problems.push(`stop ${p.name}: ${e.message}`));
      }
      if (keep) {
        log(`  kept: database ${sandbox.database?.name}, Redis prefix ${prefix}, files ${dir}`);
        return;
      }
      await deletePrefix(prefix).catch((e) => problems.push(`Redis cleanup: ${e.message}`));
      if (sandbox.database) await dropBenchDatabase(sandbox.database.name).catch((e) => problems.push(`drop database: ${e.message}`));
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      if (problems.length) log(`  cleanup problems: ${problems.join("; ")}`);
    },
  };
  open.add(sandbox);
  sandbox.database = { name: newDatabaseName() };
  try {
    sandbox.database = await createBenchDatabase(sandbox.database.name);
  } catch (err) {
    await sandbox.close();
    throw err;
  }
  sandbox.env.DATABASE_URL = sandbox.database.databaseUrl;
  return sandbox;
}

export async function withSandbox(bench, opts, fn) {
  const sandbox = await openSandbox(bench, opts);
  try {
    return await fn(sandbox);
  } finally {
    await sandbox.close();
  }
}

export async function closeAll() {
  await Promise.allSettled([...open].map((s) => s.close()));
}
