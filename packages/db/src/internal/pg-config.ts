// Turns a Prisma-style PostgreSQL URL into discrete `pg` connection fields.
//
// Discrete fields, never `connectionString`: `pg` lets `connectionString` override `database`,
// so a config like `{ ...config, database: "shadow" }` would silently keep pointing at the real
// database (see /work/shared/notes/prisma-offline.md, pitfall 3).
import type { PoolConfig } from "pg";

export interface PgConnectionFields {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  ssl?: PoolConfig["ssl"];
  /** Extra startup options, e.g. `-c search_path="app"` for a `?schema=app` URL. */
  options?: string;
}

export interface ParsedDatabaseUrl {
  pg: PgConnectionFields;
  /** The `?schema=` parameter (Prisma's convention), `undefined` means "public". */
  schema: string | undefined;
}

const DEFAULT_PORT = 5432;

export function parseDatabaseUrl(databaseUrl: string): ParsedDatabaseUrl {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error(`Invalid database URL: expected postgresql://user:password@host:port/database`);
  }
  if (url.protocol !== "postgresql:" && url.protocol !== "postgres:") {
    throw new Error(`Unsupported database URL scheme "${url.protocol}": expected postgresql://`);
  }

  const params = url.searchParams;
  // `?host=/var/run/postgresql` selects a Unix socket directory, as in libpq and Prisma.
  const host = params.get("host") ?? (url.hostname === "" ? "localhost" : decodeURIComponent(url.hostname));
  const port = url.port === "" ? DEFAULT_PORT : Number(url.port);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (database === "") {
    throw new Error("The database URL names no database (expected postgresql://host:port/<database>)");
  }

  const fields: PgConnectionFields = {
    host: host.replace(/^\[(.*)\]$/, "$1"), // IPv6 literal without brackets
    port,
    user: url.username === "" ? "postgres" : decodeURIComponent(url.username),
    database,
  };
  if (url.password !== "") fields.password = decodeURIComponent(url.password);

  const sslmode = params.get("sslmode");
  if (sslmode === "require" || sslmode === "prefer" || sslmode === "no-verify") {
    fields.ssl = { rejectUnauthorized: false };
  } else if (sslmode === "verify-ca" || sslmode === "verify-full") {
    fields.ssl = { rejectUnauthorized: true };
  }

  const schema = params.get("schema") ?? undefined;
  if (schema !== undefined && schema !== "public") {
    fields.options = `-c search_path=${quoteIdent(schema)}`;
  }
  return { pg: fields, schema };
}

/** The same server and credentials, another database (maintenance, shadow). */
export function withDatabase(fields: PgConnectionFields, database: string): PgConnectionFields {
  return { ...fields, database };
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function describeServer(fields: PgConnectionFields): string {
  return fields.host.startsWith("/") ? `${fields.host} (socket), port ${fields.port}` : `${fields.host}:${fields.port}`;
}
