// The gateway process. SIGTERM: stop accepting connections, answer the requests in flight,
// push buffered admissions to the queue, close connections.
import { ConfigError, loadConfig } from "@coupon/config";
import { createPrismaClient } from "@coupon/db/client";
import { AdmissionBatcher, createIssueQueue } from "@coupon/queue";
import { KeySpace, createRedisClient, withScripts } from "@coupon/redis";
import { createRegistry } from "@coupon/telemetry";
import { buildApp } from "./app.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const keys = new KeySpace(config.REDIS_PREFIX);
  const redis = withScripts(createRedisClient(config.REDIS_URL, { name: "gateway" }));
  const queueConnection = createRedisClient(config.REDIS_URL, { name: "gateway-queue" });
  const subscriber = createRedisClient(config.REDIS_URL, { name: "gateway-events", forWorker: true });
  const prisma = createPrismaClient(config.DATABASE_URL, { poolSize: config.DB_POOL_SIZE });
  const queue = createIssueQueue(queueConnection, keys.queuePrefix());
  const batcher = new AdmissionBatcher(queue, config.ISSUE_BATCH_MAX);
  const app = await buildApp({
    jwtSecret: config.JWT_SECRET,
    bodyLimit: config.BODY_LIMIT_BYTES,
    logLevel: config.LOG_LEVEL,
    prisma,
    redis,
    keys,
    batcher,
    registry: createRegistry("gateway"),
    subscriber,
    soldOutCacheMs: config.SOLD_OUT_CACHE_MS,
    holderCacheMax: config.HOLDER_CACHE_MAX,
  });
  await app.listen({ port: config.PORT, host: config.HOST });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, "shutting down: draining requests");
    const force = setTimeout(() => {
      app.log.error("shutdown timed out; exiting");
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    try {
      await app.close();
      await batcher.drain();
      await queue.close();
      await prisma.$disconnect();
      await Promise.all([redis.quit(), queueConnection.quit(), subscriber.quit()]);
      app.log.info("stopped");
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, "error during shutdown");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : `failed to start: ${err instanceof Error ? err.message : String(err)}`;
  process.stderr.write(`gateway: ${message}\n`);
  process.exit(1);
});
