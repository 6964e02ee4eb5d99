// Builds the gateway without listening, so tests drive it through inject().
import type { PrismaClient } from "@coupon/db/client";
import type { AdmissionBatcher, DirectBatchJobData } from "@coupon/queue";
import { onPolicyChanged, type KeySpace, type RedisClient, type ScriptedClient } from "@coupon/redis";
import { gatewayMetrics, loggerOptions } from "@coupon/telemetry";
import type { Queue } from "bullmq";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import authPlugin from "./plugins/auth.js";
import docsPlugin from "./plugins/docs.js";
import errorsPlugin from "./plugins/errors.js";
import { serverWithFrontDoor, type FrontDoorSlot } from "./http-server.js";
import { knownRefusalDoor, type KnownRefusalDoor } from "./known-refusal-door.js";
import { lazyChildLogger } from "./plugins/lazy-logger.js";
import { queueBoardPlugin } from "./plugins/queue-board.js";
import requestIdPlugin, { requestIdGenerator } from "./plugins/request-id.js";
import { problem, sendProblem } from "./problem.js";
import { adminBatchRoutes } from "./routes/admin-batches.js";
import { adminCouponRoutes } from "./routes/admin-coupons.js";
import { adminPolicyRoutes } from "./routes/admin-policies.js";
import { adminScheduleRoutes } from "./routes/admin-schedules.js";
import { couponTransitionRoutes } from "./routes/coupon-transitions.js";
import { healthRoutes } from "./routes/health.js";
import { issueRoutes } from "./routes/issue.js";
import { IssueMeter } from "./routes/issue-answers.js";
import { userReadRoutes } from "./routes/user-reads.js";
import { DirectBatchService, type DirectBatchLimits } from "./services/direct-batch-service.js";
import { CouponService } from "./services/coupon-service.js";
import { IssueService } from "./services/issue-service.js";
import { LoadShedder } from "./services/load-shedder.js";
import { PolicyService } from "./services/policy-service.js";
import { RateLimiter, type RateLimits } from "./services/rate-limiter.js";
import { RefusalCache } from "./services/refusal-cache.js";
import { ScheduleService } from "./services/schedule-service.js";

export interface AppDeps {
  jwtSecret: string;
  bodyLimit: number;
  logLevel: string;
  prisma: PrismaClient;
  redis: ScriptedClient;
  keys: KeySpace;
  batcher: AdmissionBatcher;
  /** the workers' maintenance queue: the admin's schedules API reads and feeds it */
  maintenanceQueue: Queue;
  /** where a stored DIRECT batch goes for the workers */
  directBatchQueue: Queue<DirectBatchJobData>;
  directBatchLimits: DirectBatchLimits;
  /** the issue queue, shown on the queue board with the other two */
  issueQueue?: Queue;
  /** mount bull-board at /admin/queues (default true) */
  queueBoard?: boolean;
  registry: Registry;
  /** a connection of its own for pub/sub; without one, refusals are not cached */
  subscriber?: RedisClient;
  soldOutCacheMs?: number;
  holderCacheMax?: number;
  trustProxy?: boolean | number | string;
  /** per-user and per-address limits on the issue endpoints; null or absent = off */
  rateLimits?: RateLimits;
  /** user-facing routes answer 503 while the event loop lags more than this (0 or absent = off) */
  shedEventLoopDelayMs?: number;
}

declare module "fastify" {
  interface FastifyInstance {
    /** the door answering known refusals before routing, when the refusal memory is on */
    knownRefusalDoor: KnownRefusalDoor | null;
  }
}

const trustHops = (hops: number) => (_address: string, hop: number) => hop < hops;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const front: FrontDoorSlot = { door: null };
  const requestId = requestIdGenerator();
  const app = Fastify({
    serverFactory: serverWithFrontDoor(front),
    logger: loggerOptions("gateway", deps.logLevel),
    childLoggerFactory: (logger, bindings, options) => lazyChildLogger(logger, bindings, options),
    bodyLimit: deps.bodyLimit,
    // A hop count trusts that many proxies nearest to us (Fastify's types take it as a function).
    trustProxy: typeof deps.trustProxy === "number" ? trustHops(deps.trustProxy) : (deps.trustProxy ?? false),
    genReqId: requestId,
    // One log line per request would cost more than the request itself under a stampede.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 200 },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Errors raised before routing (a URL that cannot be decoded, a path segment too long).
    frameworkErrors: (err, _request, reply) => {
      const code = err.code === "FST_ERR_MAX_PARAM_LENGTH" ? "URI_TOO_LONG" : "VALIDATION";
      return sendProblem(reply, problem(code, code === "URI_TOO_LONG" ? "A path segment is too long" : "The URL is not valid"));
    },
  });
  let draining = false;
  app.addHook("onClose", async () => {
    draining = true;
  });

  await app.register(errorsPlugin);
  await app.register(requestIdPlugin);
  await app.register(authPlugin, { secret: deps.jwtSecret });
  await app.register(docsPlugin);

  const metrics = gatewayMetrics(deps.registry);
  deps.batcher.onFailure((admissions, err) => {
    metrics.enqueueFailures.inc(admissions.length);
    app.log.error(
      { err, admissions: admissions.length, requestIds: admissions.slice(0, 20).map((a) => a.requestId) },
      "could not enqueue admissions; recovery will enqueue them again",
    );
  });
  const policies = new PolicyService(deps.prisma, deps.redis, deps.keys, app.log);
  const refusals = new RefusalCache(deps.subscriber ? (deps.soldOutCacheMs ?? 1000) : 0, deps.holderCacheMax ?? 200_000);
  if (deps.subscriber) {
    await onPolicyChanged(deps.subscriber, deps.keys, (policyId) => refusals.invalidate(policyId));
    // Messages sent while the subscription was down are lost: forget everything on reconnect.
    deps.subscriber.on("ready", () => refusals.clear());
  }
  const limiter = deps.rateLimits ? new RateLimiter(deps.redis, deps.keys, deps.rateLimits) : null;
  const issues = new IssueService(deps.redis, deps.keys, deps.batcher, policies, refusals, app.log, limiter?.enabled ? limiter : null);
  const meter = new IssueMeter(metrics);
  const shedder = new LoadShedder(deps.shedEventLoopDelayMs ?? 0, (shedding, lagMs) =>
    app.log.warn({ lagMs: Math.round(lagMs) }, shedding ? "event loop lagging: shedding user requests" : "event loop caught up: no longer shedding"),
  );
  app.addHook("onReady", async () => shedder.start());
  app.addHook("onClose", async () => shedder.stop());

  // Known refusals (a sold-out policy, a holder pressing again) are answered before routing.
  const door = refusals.enabled
    ? knownRefusalDoor({
        rememberedIdentity: app.rememberedIdentity,
        knownRefusal: (policyId, userId) => issues.knownRefusal(policyId, userId, "FCFS"),
        requestId,
        meter,
        isOpen: () => !shedder.shedding,
      })
    : null;
  app.decorate("knownRefusalDoor", door);
  app.addHook("onReady", async () => {
    front.door = door;
  });
  app.addHook("preClose", async () => {
    // Closing: Fastify answers every request now (503 and Connection: close), so clients move on.
    front.door = null;
  });

  await app.register(healthRoutes, {
    checks: { redis: () => deps.redis.ping(), postgres: () => deps.prisma.$queryRaw`SELECT 1` },
    isDraining: () => draining,
  });
  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) =>
    reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
  );
  await app.register(adminPolicyRoutes, { policies });
  await app.register(adminScheduleRoutes, { schedules: new ScheduleService(deps.maintenanceQueue, deps.redis, deps.keys) });
  const coupons = new CouponService(deps.prisma, deps.redis, deps.keys);
  // The routes a crowd drives, shed together while the loop lags (before the JWT check, which
  // costs CPU too). Health, metrics and the admin API stay answered: operators need them then.
  await app.register(async (crowd) => {
    if (shedder.enabled) {
      // Callback style: on the hot path it allocates no promise per request.
      crowd.addHook("onRequest", (_request, reply, done) => {
        if (!shedder.shedding) return done();
        reply.header("retry-after", "1");
        sendProblem(reply, problem("OVERLOADED", "The gateway is overloaded; try again shortly"));
      });
    }
    await crowd.register(issueRoutes, { issues, meter });
    await crowd.register(userReadRoutes, { prisma: deps.prisma, redis: deps.redis, keys: deps.keys });
    await crowd.register(couponTransitionRoutes, { coupons });
  });
  await app.register(adminCouponRoutes, { coupons });
  await app.register(adminBatchRoutes, {
    batches: new DirectBatchService(deps.prisma, deps.directBatchQueue, deps.directBatchLimits, deps.keys.prefix),
  });
  if (deps.queueBoard !== false) {
    const queues = [deps.issueQueue, deps.maintenanceQueue, deps.directBatchQueue].filter((q): q is Queue => q !== undefined);
    await app.register(queueBoardPlugin, { path: "/admin/queues", queues });
  }
  return app;
}
