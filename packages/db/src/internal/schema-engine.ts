// Prisma's schema engine (the thing behind `prisma migrate`) compiled to WebAssembly, driven
// through @prisma/adapter-pg. This is how migrations run without the native `schema-engine`
// binary, which the Prisma CLI would download from Prisma's servers.
//
// Three things in @prisma/adapter-pg need care when the schema engine (not the query engine)
// uses it; all three are handled here:
//  1. Catalog types: the engine reads `"char"` (OID 18, e.g. pg_constraint.contype) and `name`
//     (OID 19) columns. adapter-pg 7.10.1 decodes `name` as text but rejects `"char"` ("Column
//     type 'char' could not be deserialized"). `"char"` must come back as ColumnType Character,
//     NOT Text: the engine reads pg_constraint.contype as a Rust `char` and panics on the first
//     CHECK constraint it meets if it gets Text. `name` is reported as text.
//  2. Shadow database: adapter-pg's helper drops the shadow database before closing its pool,
//     which PostgreSQL refuses. We create/drop it ourselves: close the pool first, then drop.
//  3. `pg` gets discrete fields, never `connectionString` (which would override `database`).
// Also: adapter-pg's executeScript splits the script on ";" and runs the pieces one by one,
// which breaks on ";" inside strings/comments/function bodies and is not atomic. The native
// engine sends a migration script as one simple-protocol query (one implicit transaction);
// we do the same.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { randomUUID } from "node:crypto";

import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import {
  bindMigrationAwareSqlAdapterFactory,
  ColumnTypeEnum,
  isDriverAdapterError,
  type ErrorCapturingSqlMigrationAwareDriverAdapterFactory,
  type IsolationLevel,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
  type SqlResultSet,
  type Transaction,
  type TransactionOptions,
  type ConnectionInfo,
} from "@prisma/driver-adapter-utils";
import type { SchemaEngine } from "@prisma/schema-engine-wasm/schema_engine_bg";

import { describeServer, quoteIdent, withDatabase, type PgConnectionFields } from "./pg-config.js";

export type { SchemaEngine };

// ---------------------------------------------------------------------------------------------
// Loading the WebAssembly module (once per process: wasm-bindgen keeps module-level state).

interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: Record<string, unknown>): Promise<{ exports: Record<string, unknown> }>;
}

interface PanicRegistry {
  message: string;
  set_message(message: string): void;
}

let engineClass: Promise<typeof SchemaEngine> | undefined;

function panicRegistry(): PanicRegistry {
  const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: PanicRegistry };
  // The wasm module reports Rust panics through this global (the Prisma CLI installs the same).
  g.PRISMA_WASM_PANIC_REGISTRY ??= {
    message: "",
    set_message(message: string) {
      this.message = message;
    },
  };
  return g.PRISMA_WASM_PANIC_REGISTRY;
}

async function loadEngineClass(): Promise<typeof SchemaEngine> {
  panicRegistry();
  const runtime = await import("@prisma/schema-engine-wasm/schema_engine_bg");
  // The package's main entry imports the .wasm as an ES module, which Node 20 cannot do;
  // instantiate it by hand next to its JS glue instead (as the Prisma CLI does).
  const gluePath = createRequire(import.meta.url).resolve("@prisma/schema-engine-wasm/schema_engine_bg");
  const bytes = await readFile(join(dirname(gluePath), "schema_engine_bg.wasm"));
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const module = await wasm.compile(bytes);
  // The engine arms 10 s timers (connect/query timeouts) through the glue's setTimeout and never
  // clears them (the glue has no clearTimeout), which keeps Node alive 10 s after the work is
  // done. Same timers, unref'd: they still fire while the process has work, but do not hold it.
  const imports: Record<string, unknown> = { ...runtime };
  for (const name of Object.keys(imports)) {
    if (name.startsWith("__wbg_setTimeout_")) {
      imports[name] = (callback: () => void, ms: number) => setTimeout(callback, ms >>> 0).unref();
    }
  }
  const instance = await wasm.instantiate(module, { "./schema_engine_bg.js": imports });
  runtime.__wbg_set_wasm(instance.exports);
  (instance.exports["__wbindgen_start"] as () => void)();
  return runtime.SchemaEngine;
}

function getEngineClass(): Promise<typeof SchemaEngine> {
  engineClass ??= loadEngineClass().catch((error: unknown) => {
    engineClass = undefined;
    throw error;
  });
  return engineClass;
}

// ---------------------------------------------------------------------------------------------
// Pitfall 1: catalog types. A pg Client that rewrites the field type of `"char"`/`name` columns
// to text (what adapter-pg can decode) and remembers which columns were `"char"`, keyed by the
// result's rows array, which adapter-pg passes through unchanged to its SqlResultSet.

const PG_CHAR = 18;
const PG_NAME = 19;
const PG_TEXT = 25;
const charColumnsByRows = new WeakMap<unknown[], number[]>();

interface ResultLike {
  fields?: { dataTypeID: number }[];
  rows?: unknown[];
}

function normalizeCatalogTypes<T>(result: T): T {
  const results = (Array.isArray(result) ? result : [result]) as (ResultLike | undefined)[];
  for (const r of results) {
    if (!r?.fields) continue;
    const charColumns: number[] = [];
    r.fields.forEach((field, i) => {
      if (field.dataTypeID === PG_CHAR) {
        field.dataTypeID = PG_TEXT;
        charColumns.push(i);
      } else if (field.dataTypeID === PG_NAME) {
        field.dataTypeID = PG_TEXT;
      }
    });
    if (charColumns.length > 0 && Array.isArray(r.rows)) charColumnsByRows.set(r.rows, charColumns);
  }
  return result;
}

class CatalogTypesClient extends pg.Client {
  // Covers both the promise form and the callback form (pg.Pool uses the latter).
  override query(...args: unknown[]): any {
    const last = args[args.length - 1];
    if (typeof last === "function") {
      args[args.length - 1] = (err: unknown, res: unknown) =>
        (last as (e: unknown, r: unknown) => void)(err, err ? res : normalizeCatalogTypes(res));
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    const ret = (super.query as (...a: unknown[]) => unknown)(...args);
    return ret instanceof Promise ? ret.then(normalizeCatalogTypes) : ret;
  }
}

function restoreCharColumns(resultSet: SqlResultSet): SqlResultSet {
  const charColumns = charColumnsByRows.get(resultSet.rows);
  if (charColumns) {
    for (const i of charColumns) resultSet.columnTypes[i] = ColumnTypeEnum.Character;
  }
  return resultSet;
}

class EngineTransaction implements Transaction {
  readonly provider;
  readonly adapterName;
  readonly options: TransactionOptions;
  constructor(private readonly inner: Transaction) {
    this.provider = inner.provider;
    this.adapterName = inner.adapterName;
    this.options = inner.options;
  }
  async queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return restoreCharColumns(await this.inner.queryRaw(query));
  }
  executeRaw(query: SqlQuery): Promise<number> {
    return this.inner.executeRaw(query);
  }
  commit(): Promise<void> {
    return this.inner.commit();
  }
  rollback(): Promise<void> {
    return this.inner.rollback();
  }
  async createSavepoint(name: string): Promise<void> {
    await this.inner.createSavepoint?.(name);
  }
  async rollbackToSavepoint(name: string): Promise<void> {
    await this.inner.rollbackToSavepoint?.(name);
  }
  async releaseSavepoint(name: string): Promise<void> {
    await this.inner.releaseSavepoint?.(name);
  }
}

class EngineAdapter implements SqlDriverAdapter {
  readonly provider;
  readonly adapterName;
  constructor(
    private readonly inner: SqlDriverAdapter,
    private readonly onDispose: () => Promise<void>,
  ) {
    this.provider = inner.provider;
    this.adapterName = inner.adapterName;
  }
  async queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return restoreCharColumns(await this.inner.queryRaw(query));
  }
  executeRaw(query: SqlQuery): Promise<number> {
    return this.inner.executeRaw(query);
  }
  async executeScript(script: string): Promise<void> {
    // No parameters => pg uses the simple query protocol: the whole multi-statement script in
    // one round trip and one implicit transaction, errors mapped by adapter-pg.
    await this.inner.executeRaw({ sql: script, args: [], argTypes: [] });
  }
  async startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
    return new EngineTransaction(await this.inner.startTransaction(isolationLevel));
  }
  getConnectionInfo(): ConnectionInfo {
    return this.inner.getConnectionInfo?.() ?? { supportsRelationJoins: true };
  }
  dispose(): Promise<void> {
    return this.onDispose();
  }
}

// ---------------------------------------------------------------------------------------------
// The adapter factory handed to the engine. It owns every pool it creates so that close() can
// end them all (the engine does not always dispose its adapters) and drop leftover shadow DBs.

const POOL_DEFAULTS = {
  // The engine works on one connection, like the native engine: session state such as its
  // advisory lock (pg_advisory_lock(72707369)) stays on that connection. (The commands used here,
  // applyMigrations and diff, open no adapter transaction, which would hold that one connection.)
  max: 1,
  idleTimeoutMillis: 1_000,
  connectionTimeoutMillis: 10_000,
  allowExitOnIdle: true,
} satisfies pg.PoolConfig;

class EngineAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = "postgres" as const;
  readonly adapterName = "@prisma/adapter-pg";
  private readonly pools = new Set<pg.Pool>();
  private readonly shadowDatabases = new Set<string>();

  constructor(
    private readonly fields: PgConnectionFields,
    private readonly schema: string | undefined,
  ) {}

  private newPool(fields: PgConnectionFields): pg.Pool {
    const pool = new pg.Pool({ ...fields, ...POOL_DEFAULTS, Client: CatalogTypesClient });
    pool.on("error", () => {
      /* idle client errors surface on the next query */
    });
    this.pools.add(pool);
    return pool;
  }

  private async endPool(pool: pg.Pool): Promise<void> {
    if (!this.pools.delete(pool)) return;
    await pool.end().catch(() => undefined);
  }

  private async wrap(pool: pg.Pool, onDispose: () => Promise<void>): Promise<SqlDriverAdapter> {
    const options = this.schema === undefined ? {} : { schema: this.schema };
    const inner = await new PrismaPg(pool, options).connect();
    return new EngineAdapter(inner, onDispose);
  }

  async connect(): Promise<SqlDriverAdapter> {
    const pool = this.newPool(this.fields);
    return this.wrap(pool, () => this.endPool(pool));
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    const name = `prisma_migrate_shadow_db_${randomUUID()}`;
    await this.adminQuery(`CREATE DATABASE ${quoteIdent(name)}`);
    this.shadowDatabases.add(name);
    const pool = this.newPool(withDatabase(this.fields, name));
    // Pitfall 2: close the shadow pool first, then drop the database.
    return this.wrap(pool, async () => {
      await this.endPool(pool);
      await this.dropShadow(name);
    });
  }

  private async adminQuery(sql: string): Promise<void> {
    const client = new pg.Client({ ...this.fields, connectionTimeoutMillis: POOL_DEFAULTS.connectionTimeoutMillis });
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    try {
      await client.query(sql);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async dropShadow(name: string): Promise<void> {
    if (!this.shadowDatabases.has(name)) return;
    await this.adminQuery(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
    this.shadowDatabases.delete(name);
  }

  /** Ends every pool and drops shadow databases the engine did not dispose of. */
  async close(): Promise<void> {
    await Promise.all([...this.pools].map((pool) => this.endPool(pool)));
    for (const name of [...this.shadowDatabases]) {
      await this.dropShadow(name).catch(() => undefined);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/** PostgreSQL could not be reached at all (refused, unknown host, timeout, starting up). */
export class DatabaseUnreachableError extends Error {
  override readonly name = "DatabaseUnreachableError";
  constructor(
    readonly server: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Can't reach PostgreSQL at ${server} (${reason})`, options);
  }
}

const SOCKET_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNRESET",
  "ENOENT", // Unix socket path missing
]);

/** Returns a DatabaseUnreachableError if `error` means "no server there", else undefined. */
export function asUnreachable(error: unknown, fields: PgConnectionFields): DatabaseUnreachableError | undefined {
  const server = describeServer(fields);
  if (error instanceof DatabaseUnreachableError) return error;
  if (isDriverAdapterError(error)) {
    const kind = error.cause.kind;
    if (kind === "DatabaseNotReachable" || kind === "SocketTimeout" || kind === "ConnectionClosed") {
      return new DatabaseUnreachableError(server, kind, { cause: error });
    }
    return undefined;
  }
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && SOCKET_ERROR_CODES.has(code)) {
    return new DatabaseUnreachableError(server, code, { cause: error });
  }
  if (code === "57P03") return new DatabaseUnreachableError(server, "the database system is starting up", { cause: error });
  if (/timeout expired|connection timeout/i.test(error.message)) {
    return new DatabaseUnreachableError(server, "connection timed out", { cause: error });
  }
  if (/Can't reach database server/.test(error.message)) {
    return new DatabaseUnreachableError(server, "connection failed", { cause: error });
  }
  const nested = (error as { errors?: unknown }).errors; // AggregateError (IPv4 + IPv6 attempts)
  if (Array.isArray(nested) && nested.some((e) => asUnreachable(e, fields))) {
    return new DatabaseUnreachableError(server, "ECONNREFUSED", { cause: error });
  }
  return undefined;
}

/** The engine's error for a failed command, with adapter errors and panics made readable. */
function engineError(error: unknown, factory: ErrorCapturingSqlMigrationAwareDriverAdapterFactory): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  // Errors thrown by our JS adapter reach the engine as "External error id#N".
  const external = /External error id#(\d+)/.exec(error.message);
  if (external) {
    const record = factory.errorRegistry.consumeError(Number(external[1]));
    if (record?.error instanceof Error) return record.error;
  }
  if (error.name === "RuntimeError") {
    const panic = panicRegistry().message;
    if (panic) return new Error(`Prisma schema engine panicked: ${panic}`, { cause: error });
  }
  const code = (error as { code?: unknown }).code;
  const message = error.name === "SchemaConnectorError" ? connectorMessage(error.message) : error.message;
  if (typeof code === "string") {
    // A user-facing Prisma error (P3009, P3018, ...), as the CLI prints it.
    const text = message.startsWith(code) ? message : `${code}: ${message}`;
    return Object.assign(new Error(text, { cause: error }), { name: "SchemaEngineError", code });
  }
  if (message !== error.message) return Object.assign(new Error(message, { cause: error }), { name: "SchemaEngineError" });
  return error;
}

/**
 * SchemaConnectorError messages end with a Rust span trace ("   0: sql_schema_connector::...")
 * and may start with a generic "external connector error" line; keep the useful part and name
 * the migration that failed.
 */
function connectorMessage(original: string): string {
  const lines = original.split("\n");
  const traceStart = lines.findIndex((line) => /^\s+\d+: /.test(line));
  const trace = traceStart === -1 ? [] : lines.slice(traceStart);
  const detail = (traceStart === -1 ? lines : lines.slice(0, traceStart))
    .map((line) => line.trim())
    .filter((line) => line !== "" && line !== "external connector error")
    .join(" ");
  const migration = /apply_migration[\s\S]*?migration_name="([^"]+)"/.exec(trace.join("\n"))?.[1];
  if (migration) return `Migration \`${migration}\` failed to apply: ${detail}`;
  return traceStart === -1 ? original : detail || original;
}

// ---------------------------------------------------------------------------------------------
// One engine session: connect, run commands, always clean up.

export interface EngineSessionOptions {
  fields: PgConnectionFields;
  schema: string | undefined;
  /** Receives the engine's JSON log lines; silent by default. */
  onEngineLog?: ((line: string) => void) | undefined;
}

export type RunCommand = <T>(command: (engine: SchemaEngine) => Promise<T>) => Promise<T>;

export async function withSchemaEngine<T>(options: EngineSessionOptions, body: (run: RunCommand) => Promise<T>): Promise<T> {
  const EngineClass = await getEngineClass();
  const factory = new EngineAdapterFactory(options.fields, options.schema);
  const bound = bindMigrationAwareSqlAdapterFactory(factory);
  const fail = (error: unknown): never => {
    const mapped = engineError(error, bound);
    throw asUnreachable(mapped, options.fields) ?? mapped;
  };
  let engine: SchemaEngine | undefined;
  try {
    const log = options.onEngineLog ?? (() => undefined);
    engine = await EngineClass.new({ datamodels: undefined }, log, bound).catch(fail);
    const current = engine;
    return await body((command) => {
      panicRegistry().message = "";
      return command(current).catch(fail);
    });
  } finally {
    engine?.free();
    await factory.close();
  }
}
