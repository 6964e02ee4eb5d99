// Configuration for one test file: the run's database, Redis DB 0 with a prefix of its own (or the
// run's Redis Cluster, when test/cluster-setup.ts started one).
import { randomBytes } from "node:crypto";

export const JWT_SECRET = "test-secret-test-secret-test-secret-0123456789";

const RARELY = "0 0 1 1 *";

export interface TestEnv {
  DATABASE_URL: string;
  REDIS_URL: string;
  REDIS_PREFIX: string;
  JWT_SECRET: string;
  LOG_LEVEL: string;
  [key: string]: string;
}

export function testEnv(overrides: Record<string, string> = {}): TestEnv {
  const databaseUrl = process.env.TEST_DATABASE_URL;
  if (!databaseUrl) throw new Error("TEST_DATABASE_URL is unset: run tests through vitest (test/global-setup.ts)");
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    ...(process.env.TEST_REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: process.env.TEST_REDIS_CLUSTER_NODES } : {}),
    REDIS_PREFIX: `t-${randomBytes(5).toString("hex")}`,
    JWT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    // Every test file shares one database: a scheduled expiry, release or reconciliation firing in
    // one file's worker would change another file's rows. Tests run these jobs on purpose, through
    // POST /admin/schedules/:name/run, so their schedules are set to once a year.
    EXPIRY_CRON: RARELY,
    RESERVATION_RELEASE_CRON: RARELY,
    RECONCILE_CRON: RARELY,
    // Every request of the suite comes from 127.0.0.1, bursts of thousands of users included: the
    // per-address limit would cut them. And vitest shares the in-process gateway's event loop on a
    // busy machine, where a slow moment must not turn into a 503. Tests of protection/ turn them on.
    RATE_LIMIT_IP_PER_SEC: "0",
    SHED_EVENT_LOOP_DELAY_MS: "0",
    ...overrides,
  };
}
