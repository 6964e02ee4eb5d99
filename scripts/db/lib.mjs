// Shared by the db scripts: loads @coupon/db/migrate from the built package, and the defaults.
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SCHEMA_PATH = fileURLToPath(new URL("../../prisma/schema.prisma", import.meta.url));
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));
export const DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/coupon";

export function databaseUrl() {
  return process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/**
 * `import("@coupon/db/migrate")`, resolved from inside packages/db (a package may import itself
 * by name through its "exports"), so the repository root needs no dependency on it.
 */
export async function loadDbMigrate() {
  const require = createRequire(new URL("../../packages/db/package.json", import.meta.url));
  let entry;
  try {
    entry = require.resolve("@coupon/db/migrate");
  } catch {
    throw new ScriptError("packages/db is not built: run `pnpm --filter @coupon/db build` first");
  }
  return import(pathToFileURL(entry).href);
}

/** An error whose message is all the user needs to see. */
export class ScriptError extends Error {}

/** Prints `prefix: message` on one line, without a stack, and sets exit code 1. */
export function reportFailure(prefix, error, hints = {}) {
  let message;
  if (error?.name === "DatabaseUnreachableError") {
    message = `${error.message}. Is PostgreSQL running? Start it with \`docker compose up -d\` (or set DATABASE_URL).`;
  } else if (error instanceof Error) {
    message = error.message;
  } else {
    message = String(error);
  }
  console.error(`${prefix}: ${hints.multiline ? message : message.split("\n")[0]}`);
  process.exitCode = 1;
}
