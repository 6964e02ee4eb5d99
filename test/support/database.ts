// A PostgreSQL database of a test file's own, migrated like the run's. For tests that need a table
// nobody else writes to at the same time: the outbox relay takes every unpublished row of its
// database, so two test files relaying from one database would publish each other's events.
import { randomBytes } from "node:crypto";
import { migrateDeploy } from "@coupon/db/migrate";
import pg from "pg";

export interface OwnDatabase {
  url: string;
  drop: () => Promise<void>;
}

export async function createOwnDatabase(): Promise<OwnDatabase> {
  const runUrl = process.env.TEST_DATABASE_URL;
  if (!runUrl) throw new Error("TEST_DATABASE_URL is unset: run tests through vitest (test/global-setup.ts)");
  const url = new URL(runUrl);
  const name = `${url.pathname.slice(1)}_${randomBytes(4).toString("hex")}`;
  url.pathname = `/${name}`;
  await migrateDeploy({
    databaseUrl: url.toString(),
    migrationsDir: new URL("../../prisma/migrations", import.meta.url).pathname,
    createDatabase: true,
    log: () => {},
  });
  return {
    url: url.toString(),
    drop: async () => {
      if (process.env.KEEP_TEST_DB) return;
      const admin = new URL(runUrl);
      admin.pathname = "/postgres";
      const client = new pg.Client({ connectionString: admin.toString() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    },
  };
}
