// One PostgreSQL database per test run, migrated once; every test file then works in it with its
// own Redis key prefix, so runs and files never collide. Dropped at the end.
import { migrateDeploy } from "@coupon/db/migrate";
import pg from "pg";

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export default async function setup(): Promise<() => Promise<void>> {
  const name = `coupon_test_${Date.now().toString(36)}_${process.pid}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  await migrateDeploy({ databaseUrl, migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname, createDatabase: true, log: () => {} });
  process.env.TEST_DATABASE_URL = databaseUrl;
  return async () => {
    if (process.env.KEEP_TEST_DB) return;
    const client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.end();
  };
}
