#!/usr/bin/env node
// `pnpm db:migrate`: creates the database if it is missing, then applies prisma/migrations like
// `prisma migrate deploy`, without Prisma's native engine download (see packages/db/src/migrate.ts).
//
//   DATABASE_URL=postgresql://user:pass@host:5432/db pnpm db:migrate
//   (default postgresql://postgres@127.0.0.1:5432/coupon)
import { databaseUrl, loadDbMigrate, MIGRATIONS_DIR, reportFailure } from "./lib.mjs";

try {
  const { migrateDeploy } = await loadDbMigrate();
  await migrateDeploy({ databaseUrl: databaseUrl(), migrationsDir: MIGRATIONS_DIR, createDatabase: true });
} catch (error) {
  // Engine errors (a failed migration, P3009/P3018) keep their detail lines; everything else is one line.
  const fromEngine = typeof error?.code === "string" && /^P\d{4}$/.test(error.code);
  reportFailure("db:migrate", error, { multiline: fromEngine });
}
