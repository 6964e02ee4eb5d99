// An in-process gateway on the real Redis and PostgreSQL, driven through inject(), plus direct
// handles on both stores for assertions. Wired exactly as the server process wires it.
import { loadConfig } from "@coupon/config";
import type { PrismaClient } from "@coupon/db/client";
import { createRedisClient, deleteMatching, type KeySpace, type RedisClient, type ScriptedClient } from "@coupon/redis";
import type { FastifyInstance } from "fastify";
import type { Queue } from "bullmq";
import { createGateway } from "../../apps/gateway/src/gateway.js";
import { adminToken, bearer } from "./tokens.js";
import { testEnv, type TestEnv } from "./env.js";

export interface Harness {
  env: TestEnv;
  app: FastifyInstance;
  prisma: PrismaClient;
  redis: ScriptedClient;
  keys: KeySpace;
  queue: Queue;
  maintenanceQueue: Queue;
  close: () => Promise<void>;
}

export async function startHarness(overrides: Record<string, string> = {}): Promise<Harness> {
  const env = testEnv({ DB_POOL_SIZE: "5", ...overrides });
  const gateway = await createGateway(loadConfig(env));
  await gateway.app.ready();
  return {
    ...gateway,
    env,
    close: async () => {
      await gateway.close();
      const cleaner = createRedisClient(loadConfig(env));
      await deleteKeys(cleaner, `${env.REDIS_PREFIX}:*`);
      await cleaner.quit();
    },
  };
}

/** Every key matching `pattern`, on every master when Redis is a cluster. */
export async function deleteKeys(redis: RedisClient, pattern: string): Promise<void> {
  await deleteMatching(redis, pattern);
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
