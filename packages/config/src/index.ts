// Configuration from environment variables, validated once at start-up. Every bad value is
// named in one message, so an operator fixes them all in one go.
import { z } from "zod";

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
// Five or six cron fields; BullMQ (cron-parser) rejects the rest at upsert time.
const cron = z
  .string()
  .trim()
  .regex(/^\S+(\s+\S+){4,5}$/, "must be a cron pattern of 5 or 6 fields");

// "host:port,host:port": the seed nodes of a Redis Cluster (the client discovers the rest).
const clusterNodes = z
  .string()
  .trim()
  .regex(/^[^\s,:]+:\d{1,5}(\s*,\s*[^\s,:]+:\d{1,5})*$/, "must be host:port[,host:port...]")
  .transform((v) =>
    v.split(",").map((entry) => {
      const [host, port] = entry.trim().split(":") as [string, string];
      return { host, port: Number(port) };
    }),
  )
  .refine((nodes) => nodes.every((n) => n.port >= 1 && n.port <= 65535), "ports must be 1-65535");
const rate = z.coerce.number().min(0).max(1_000_000);
const burst = z.coerce.number().int().min(1).max(1_000_000);
// Fastify's trustProxy: false, true (trust every hop), a hop count, or addresses/CIDRs.
const trustProxy = z
  .string()
  .trim()
  .regex(/^(true|false|\d+|[0-9A-Fa-f.:/]+(\s*,\s*[0-9A-Fa-f.:/]+)*)$/, "must be true, false, a hop count, or comma-separated addresses/CIDRs")
  .transform((v): boolean | number | string => (v === "true" ? true : v === "false" ? false : /^\d+$/.test(v) ? Number(v) : v));

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: port.default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  WORKER_METRICS_PORT: port.default(9464),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "must start with redis:// or rediss://")
    .default("redis://127.0.0.1:6379"),
  /** set: run on a Redis Cluster seeded by these nodes; REDIS_URL then gives only user, password and TLS */
  REDIS_CLUSTER_NODES: z.preprocess((v) => (v === "" ? undefined : v), clusterNodes.optional()),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, "letters, digits and _ . : - only")
    .default("cp"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must start with postgresql://")
    .default("postgresql://postgres@127.0.0.1:5432/coupon"),
  DB_POOL_SIZE: positiveInt.max(200).default(10),
  JWT_SECRET: z.string({ error: "is required" }).min(32, "must be at least 32 characters"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** most admissions one persistence job carries */
  ISSUE_BATCH_MAX: positiveInt.max(5000).default(500),
  /** how long a gateway gathers admissions into one job (0 = one event-loop turn) */
  ISSUE_BATCH_WINDOW_MS: z.coerce.number().int().min(0).max(1000).default(10),
  /** persistence jobs one worker runs at once */
  WORKER_CONCURRENCY: positiveInt.max(256).default(8),
  /** how long a worker's lock on a job lasts; a job whose worker died is retried after it lapses */
  WORKER_LOCK_DURATION_MS: positiveInt.default(30_000),
  WORKER_STALLED_INTERVAL_MS: positiveInt.default(15_000),
  /** an admission pending this long without being recorded is enqueued again by recovery */
  RECOVERY_GRACE_MS: positiveInt.default(30_000),
  RECOVERY_EVERY_MS: positiveInt.default(5_000),
  /** how long a gateway answers SOLD_OUT from memory after Redis said so (0 turns the shortcut off) */
  SOLD_OUT_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** users known to hold a policy's coupon, answered ALREADY_ISSUED from memory */
  HOLDER_CACHE_MAX: positiveInt.default(200_000),
  /** per-user limit on the issue endpoints, requests per second (0 = off) and burst */
  RATE_LIMIT_USER_PER_SEC: rate.default(5),
  RATE_LIMIT_USER_BURST: burst.default(10),
  /** per-client-address limit on the issue endpoints (0 = off) and burst: sized for an office behind one NAT */
  RATE_LIMIT_IP_PER_SEC: rate.default(100),
  RATE_LIMIT_IP_BURST: burst.default(1000),
  /** user-facing routes answer 503 while the event loop lags more than this (0 = off) */
  SHED_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(200),
  /** whom the gateway believes about the client address (X-Forwarded-For): see README */
  TRUST_PROXY: trustProxy.default(false),
  /** most outbox events the relay publishes per transaction */
  OUTBOX_BATCH: positiveInt.max(10_000).default(1_000),
  /** the event stream is trimmed to about this many entries (XADD MAXLEN ~) */
  OUTBOX_STREAM_MAXLEN: positiveInt.default(1_000_000),
  /** how long the relay waits after a round that did not fill a batch */
  OUTBOX_POLL_MS: positiveInt.max(60_000).default(200),
  /** ISSUED coupons past expires_at become EXPIRED (worker job scheduler) */
  EXPIRY_CRON: cron.default("0 0 * * *"),
  /** coupons one expiry statement changes; the job loops until a batch comes back short */
  EXPIRY_BATCH: positiveInt.max(100_000).default(5000),
  /** expiry / release batches in flight at once (SKIP LOCKED keeps them disjoint) */
  EXPIRY_CONCURRENCY: positiveInt.max(16).default(2),
  /** RESERVED coupons older than RESERVATION_TIMEOUT_MS go back to ISSUED */
  RESERVATION_RELEASE_CRON: cron.default("*/10 * * * *"),
  RESERVATION_TIMEOUT_MS: positiveInt.default(1_800_000),
  /** how often a worker upserts its job schedulers again (they vanish with Redis' data) */
  SCHEDULER_REFRESH_MS: positiveInt.default(60_000),
  /** Redis stock and admissions checked against PostgreSQL */
  RECONCILE_CRON: cron.default("* * * * *"),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  BODY_LIMIT_BYTES: positiveInt.default(16_384),
  /** largest DIRECT batch upload (POST /admin/policies/:id/direct-issues only; 413 beyond it) */
  DIRECT_BATCH_MAX_BYTES: positiveInt.default(32 * 1024 * 1024),
  /** most user ids one DIRECT batch may list (413 beyond it) */
  DIRECT_BATCH_MAX_IDS: positiveInt.default(1_000_000),
  /** user ids per stored chunk: the worker issues one chunk per transaction */
  DIRECT_BATCH_CHUNK: positiveInt.max(10_000).default(5000),
  /** bull-board at /admin/queues on the gateway (admins only) */
  BULL_BOARD_ENABLED: z.enum(["true", "false", "1", "0"]).default("true").transform((v) => v === "true" || v === "1"),
  /** DIRECT batches one worker runs at once */
  DIRECT_BATCH_CONCURRENCY: positiveInt.max(16).default(1),
});

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? "?");
      const value = env[key];
      const shown = value === undefined ? "unset" : key.includes("SECRET") ? "(hidden)" : JSON.stringify(value);
      return `${key}=${shown}: ${i.message}`;
    }),
  );
}
