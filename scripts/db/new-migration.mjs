#!/usr/bin/env node
// Authors a migration from prisma/schema.prisma, like `prisma migrate dev --create-only`, offline:
//
//   node scripts/db/new-migration.mjs NAME           writes prisma/migrations/<UTC timestamp>_NAME/migration.sql
//                                                     with the changes since the last migration (nothing if none)
//   node scripts/db/new-migration.mjs NAME --empty   writes it even without changes (hand-written SQL)
//   node scripts/db/new-migration.mjs --from-empty   prints the SQL creating the whole schema (writes nothing)
//
// The migration is NOT applied; review it, append what Prisma cannot express (CHECK constraints,
// partial indexes), then run `pnpm db:migrate`. Needs a reachable PostgreSQL (DATABASE_URL's
// server; a temporary shadow database is created and dropped there).
import { relative } from "node:path";

import { databaseUrl, loadDbMigrate, MIGRATIONS_DIR, reportFailure, ROOT, SCHEMA_PATH } from "./lib.mjs";

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith("--")));
const [name] = args.filter((a) => !a.startsWith("--"));
const known = new Set(["--empty", "--from-empty"]);
const unknown = [...flags].filter((f) => !known.has(f));

if (unknown.length > 0 || (!name && !flags.has("--from-empty"))) {
  console.error("usage: node scripts/db/new-migration.mjs NAME [--empty] | --from-empty");
  process.exit(2);
}

try {
  const db = await loadDbMigrate();
  if (flags.has("--from-empty")) {
    process.stdout.write(await db.diffSchemaToSql({ schemaPath: SCHEMA_PATH, databaseUrl: databaseUrl() }));
  } else {
    const created = await db.createMigration({
      name,
      schemaPath: SCHEMA_PATH,
      migrationsDir: MIGRATIONS_DIR,
      databaseUrl: databaseUrl(),
      allowEmpty: flags.has("--empty"),
    });
    if (created === null) {
      console.log("No schema changes since the last migration: nothing written (use --empty for a hand-written one).");
    } else {
      console.log(`Wrote ${relative(ROOT, created.file)}`);
      console.log("Review it (add CHECK constraints / partial indexes by hand if needed), then run `pnpm db:migrate`.");
    }
  }
} catch (error) {
  reportFailure("new-migration", error, { multiline: !(error?.name === "DatabaseUnreachableError") });
}
