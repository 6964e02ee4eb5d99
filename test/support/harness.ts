// An in-process gateway on the real Redis and PostgreSQL, driven through inject(), plus direct
// handles on both stores for assertions.
import { createPrismaClient, type PrismaClient } from "@coupon/db/client";
import { AdmissionBatcher, createIssueQueue } from "@coupon/queue";
import { KeySpace, createRedisClient, withScripts, type ScriptedClient } from "@coupon/redis";
import { createRegistry } from "@coupon/telemetry";
import type { FastifyInstance } from "fastify";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { buildApp } from "../../apps/gateway/src/app.js";
import { adminToken, bearer } from "./tokens.js";
import { testEnv, type TestEnv } from "./env.js";

export interface Harness {
  env: TestEnv;
  app: FastifyInstance;
  prisma: PrismaClient;
  redis: ScriptedClient;
  keys: KeySpace;
  queue: Queue;
  close: () => Promise<void>;
}

export async function startHarness(overrides: Record<string, string> = {}): Promise<Harness> {
  const env = testEnv(overrides);
  const keys = new KeySpace(env.REDIS_PREFIX);
  const redis = withScripts(createRedisClient(env.REDIS_URL));
  const queueConnection: Redis = createRedisClient(env.REDIS_URL);
  const subscriber: Redis = createRedisClient(env.REDIS_URL, { forWorker: true });
  const prisma = createPrismaClient(env.DATABASE_URL, { poolSize: 5 });
  const queue = createIssueQueue(queueConnection, keys.queuePrefix());
  const batcher = new AdmissionBatcher(queue, Number(overrides.ISSUE_BATCH_MAX ?? 500));
  const app = await buildApp({
    jwtSecret: env.JWT_SECRET,
    bodyLimit: 16_384,
    logLevel: env.LOG_LEVEL,
    prisma,
    redis,
    keys,
    batcher,
    registry: createRegistry("gateway"),
    subscriber,
    soldOutCacheMs: Number(overrides.SOLD_OUT_CACHE_MS ?? 1000),
  });
  await app.ready();
  return {
    env,
    app,
    prisma,
    redis,
    keys,
    queue,
    close: async () => {
      await app.close();
      await batcher.drain();
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await deleteKeys(redis, `${env.REDIS_PREFIX}:*`);
      await prisma.$disconnect();
      await Promise.all([redis.quit(), queueConnection.quit(), subscriber.quit()]);
    },
  };
}

export async function deleteKeys(redis: ScriptedClient, pattern: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await (redis as Redis).scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    if (keys.length) await (redis as Redis).del(...keys);
  } while (cursor !== "0");
}

export interface PolicyInput {
  issueType?: "FCFS" | "CODE" | "DIRECT";
  totalQuantity?: number | null;
  perUserLimit?: number;
  code?: string;
  status?: "ACTIVE" | "PAUSED";
  issueStartAt?: string;
  issueEndAt?: string;
}

export function policyBody(input: PolicyInput = {}): Record<string, unknown> {
  const now = Date.now();
  const body: Record<string, unknown> = {
    name: "Test sale",
    issueType: input.issueType ?? "FCFS",
    perUserLimit: input.perUserLimit ?? 1,
    validDays: 30,
    issueStartAt: input.issueStartAt ?? new Date(now - 60_000).toISOString(),
    issueEndAt: input.issueEndAt ?? new Date(now + 3_600_000).toISOString(),
    discount: { type: "FIXED", value: 1000 },
  };
  if (input.totalQuantity !== undefined) body.totalQuantity = input.totalQuantity;
  else if ((input.issueType ?? "FCFS") === "FCFS") body.totalQuantity = 10;
  if (input.code) body.code = input.code;
  if (input.status) body.status = input.status;
  return body;
}

export async function createPolicy(app: FastifyInstance, input: PolicyInput = {}): Promise<{ id: string } & Record<string, unknown>> {
  const res = await app.inject({ method: "POST", url: "/admin/policies", headers: bearer(adminToken()), payload: policyBody(input) });
  if (res.statusCode !== 201) throw new Error(`create policy: ${res.statusCode} ${res.body}`);
  return res.json();
}
