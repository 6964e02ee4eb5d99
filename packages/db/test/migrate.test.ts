// Runs the real migrations against a throwaway database on the local PostgreSQL
// (TEST_DATABASE_URL or DATABASE_URL names the server; default postgres@127.0.0.1:5432).
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { diffMigrationsToSchema, migrateDeploy, parseDatabaseUrl } from "../src/migrate.js";

const MIGRATIONS_DIR = fileURLToPath(new URL("../../../prisma/migrations", import.meta.url));
const SCHEMA_PATH = fileURLToPath(new URL("../../../prisma/schema.prisma", import.meta.url));

const serverUrl = new URL(
  process.env["TEST_DATABASE_URL"] ?? process.env["DATABASE_URL"] ?? "postgresql://postgres@127.0.0.1:5432/postgres",
);
const databaseName = `coupon_test_${Date.now()}_${randomBytes(3).toString("hex")}`;
const databaseUrl = Object.assign(new URL(serverUrl.href), { pathname: `/${databaseName}` }).href;

const migrationNames = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

async function withDb<T>(database: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...parseDatabaseUrl(databaseUrl).pg, database });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

const validPolicy = {
  name: "'Launch sale'",
  issue_type: "'FCFS'",
  total_quantity: "100",
  discount_type: "'FIXED'",
  discount_value: "1000",
  valid_days: "7",
  issue_start_at: "now()",
  issue_end_at: "now() + interval '1 day'",
};

function insertPolicy(overrides: Partial<Record<keyof typeof validPolicy, string>>): string {
  const row = { ...validPolicy, ...overrides };
  return `INSERT INTO coupon_policies (${Object.keys(row).join(", ")}) VALUES (${Object.values(row).join(", ")})`;
}

describe("migrateDeploy", () => {
  let logs: string[] = [];
  const log = (line: string) => logs.push(line);

  beforeAll(() => {
    expect(migrationNames.length).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await withDb("postgres", (client) => client.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`));
  });

  it("creates the database and applies every migration", async () => {
    const result = await migrateDeploy({ databaseUrl, migrationsDir: MIGRATIONS_DIR, createDatabase: true, log });
    expect(result.databaseCreated).toBe(true);
    expect(result.migrationNames).toEqual(migrationNames);
    expect(result.appliedMigrationNames).toEqual(migrationNames);
    expect(logs).toContain(`Created database "${databaseName}"`);
  });

  it("applies nothing the second time", async () => {
    logs = [];
    const result = await migrateDeploy({ databaseUrl, migrationsDir: MIGRATIONS_DIR, createDatabase: true, log });
    expect(result.databaseCreated).toBe(false);
    expect(result.appliedMigrationNames).toEqual([]);
    expect(logs).toContain("No pending migrations to apply.");
  });

  it("records _prisma_migrations rows as the Prisma CLI does (sha256 checksums)", async () => {
    const { rows } = await withDb(databaseName, (client) =>
      client.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null; applied_steps_count: number }>(
        "SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM _prisma_migrations ORDER BY started_at",
      ),
    );
    expect(rows.map((r) => r.migration_name)).toEqual(migrationNames);
    for (const row of rows) {
      const sql = readFileSync(join(MIGRATIONS_DIR, row.migration_name, "migration.sql"));
      expect(row.checksum).toBe(createHash("sha256").update(sql).digest("hex"));
      expect(row.finished_at).not.toBeNull();
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it("creates the tables, the hand-written CHECK constraints and the partial index", async () => {
    await withDb(databaseName, async (client) => {
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining(["coupon_audit", "coupon_issues", "coupon_policies", "issue_requests", "outbox_events"]),
      );
      const checks = await client.query<{ conname: string }>(
        "SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid IN ('coupon_policies'::regclass, 'coupon_issues'::regclass)",
      );
      expect(checks.rows.map((r) => r.conname)).toHaveLength(11);
      expect(checks.rows.map((r) => r.conname)).toContain("coupon_policies_fcfs_total_quantity_check");
      const index = await client.query<{ indexdef: string }>(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'outbox_events_unpublished_idx'",
      );
      expect(index.rows[0]?.indexdef).toMatch(/WHERE \(published_at IS NULL\)/);
    });
  });

  it("enforces the CHECK constraints", async () => {
    await withDb(databaseName, async (client) => {
      await expect(client.query(insertPolicy({}))).resolves.toMatchObject({ rowCount: 1 });
      await expect(client.query(insertPolicy({ total_quantity: "NULL" }))).rejects.toMatchObject({
        code: "23514",
        constraint: "coupon_policies_fcfs_total_quantity_check",
      });
      await expect(client.query(insertPolicy({ discount_type: "'PERCENT'", discount_value: "101" }))).rejects.toMatchObject({
        constraint: "coupon_policies_percent_range_check",
      });
    });
  });

  it("has migrations that match prisma/schema.prisma (no drift)", async () => {
    await expect(diffMigrationsToSchema({ schemaPath: SCHEMA_PATH, migrationsDir: MIGRATIONS_DIR, databaseUrl })).resolves.toBeNull();
  });
});
