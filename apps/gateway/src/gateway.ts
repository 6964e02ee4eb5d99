// Connects a gateway to its stores from a validated configuration and builds the app. The
// server process and the tests both start a gateway this way; close() undoes all of it.
import type { Config } from "@coupon/config";
import { createPrismaClient, type PrismaClient } from "@coupon/db/client";
import {
  AdmissionBatcher,
  MAINTENANCE_QUEUE,
  createDirectBatchQueue,
  createIssueQueue,
  type DirectBatchJobData,
  type PersistJobData,
} from "@coupon/queue";
import { KeySpace, createRedisClient, withScripts, type ScriptedClient } from "@coupon/redis";
import { createRegistry } from "@coupon/telemetry";
import { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.js";

export interface Gateway {
  app: FastifyInstance;
  prisma: PrismaClient;
  redis: ScriptedClient;
  keys: KeySpace;
  queue: Queue<PersistJobData>;
  maintenanceQueue: Queue;
  directBatchQueue: Queue<DirectBatchJobData>;
  /** stop taking requests, answer those in flight, enqueue what is buffered, disconnect */
  close: () => Promise<void>;
}

export async function createGateway(config: Config): Promise<Gateway> {
  const keys = new KeySpace(config.REDIS_PREFIX);
  const redis = withScripts(createRedisClient(config, { name: "gateway" }));
  const queueConnection = createRedisClient(config, { name: "gateway-queue" });
  const subscriber = createRedisClient(config, { name: "gateway-events", forWorker: true });
  const prisma = createPrismaClient(config.DATABASE_URL, { poolSize: config.DB_POOL_SIZE });
  const queue = createIssueQueue(queueConnection, keys.queuePrefix());
  const maintenanceQueue = new Queue(MAINTENANCE_QUEUE, { connection: queueConnection, prefix: keys.queuePrefix() });
  const directBatchQueue = createDirectBatchQueue(queueConnection, keys.queuePrefix());
  const batcher = new AdmissionBatcher(queue, config.ISSUE_BATCH_MAX, config.ISSUE_BATCH_WINDOW_MS);
  const app = await buildApp({
    jwtSecret: config.JWT_SECRET,
    bodyLimit: config.BODY_LIMIT_BYTES,
    logLevel: config.LOG_LEVEL,
    prisma,
    redis,
    keys,
    batcher,
    maintenanceQueue,
    directBatchQueue,
    issueQueue: queue,
    queueBoard: config.BULL_BOARD_ENABLED,
    directBatchLimits: {
      maxBytes: config.DIRECT_BATCH_MAX_BYTES,
      maxIds: config.DIRECT_BATCH_MAX_IDS,
      chunkSize: config.DIRECT_BATCH_CHUNK,
    },
    registry: createRegistry("gateway"),
    subscriber,
    soldOutCacheMs: config.SOLD_OUT_CACHE_MS,
    holderCacheMax: config.HOLDER_CACHE_MAX,
    trustProxy: config.TRUST_PROXY,
    rateLimits: {
      user: { perSecond: config.RATE_LIMIT_USER_PER_SEC, burst: config.RATE_LIMIT_USER_BURST },
      ip: { perSecond: config.RATE_LIMIT_IP_PER_SEC, burst: config.RATE_LIMIT_IP_BURST },
    },
    shedEventLoopDelayMs: config.SHED_EVENT_LOOP_DELAY_MS,
  });
  return {
    app,
    prisma,
    redis,
    keys,
    queue,
    maintenanceQueue,
    directBatchQueue,
    close: async () => {
      await app.close();
      await batcher.drain();
      await Promise.all([queue.close(), maintenanceQueue.close(), directBatchQueue.close()]);
      await prisma.$disconnect();
      await Promise.all([redis.quit(), queueConnection.quit(), subscriber.quit()]);
    },
  };
}
