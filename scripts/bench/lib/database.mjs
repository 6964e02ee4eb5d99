// One PostgreSQL database per benchmark: created and migrated with the project's own offline
// migrator, dropped (WITH FORCE) at the end.
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";

const MIGRATIONS_DIR = fileURLToPath(new URL("../../../prisma/migrations", import.meta.url));

export function adminUrl() {
  return process.env.BENCH_PG_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
}

function urlFor(name) {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

export function newDatabaseName() {
  return `coupon_bench_${randomBytes(5).toString("hex")}`;
}

/** Creates and migrates the database; returns its name and URL. */
export async function createBenchDatabase(name) {
  const databaseUrl = urlFor(name);
  const { migrateDeploy } = await import("@coupon/db/migrate");
  await migrateDeploy({ databaseUrl, migrationsDir: MIGRATIONS_DIR, createDatabase: true, log: () => {} });
  return { name, databaseUrl };
}

export async function dropBenchDatabase(name) {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Databases left behind by benchmark runs that were killed (`--drop-leftovers`). */
export async function leftoverDatabases() {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    const r = await client.query("SELECT datname FROM pg_database WHERE datname LIKE 'coupon\\_bench\\_%'");
    return r.rows.map((row) => row.datname);
  } finally {
    await client.end();
  }
}
