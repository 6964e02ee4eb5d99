// Configuration for one test file: the run's database, Redis DB 0 with a prefix of its own.
import { randomBytes } from "node:crypto";

export const JWT_SECRET = "test-secret-test-secret-test-secret-0123456789";

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
    REDIS_PREFIX: `t-${randomBytes(5).toString("hex")}`,
    JWT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    ...overrides,
  };
}
