// What a user reads back: the fate of an issue request, and their coupons.
import { COUPON_STATUSES, DomainError, policyIdOfRequest, type CouponStatus } from "@coupon/domain";
import type { PrismaClient } from "@coupon/db/client";
import { getPending, readCouponCache, writeCouponCache, type KeySpace, type RedisClient } from "@coupon/redis";
import type { FastifyInstance } from "fastify";
import { identityOf } from "../plugins/auth.js";
import { couponView } from "../services/policy-view.js";
import { linkNext, readPage } from "./paging.js";
import { bearer, couponSchema, pageQuery, problems } from "./schemas.js";

interface Deps {
  prisma: PrismaClient;
  redis: RedisClient;
  keys: KeySpace;
}

const requestSchema = {
  type: "object",
  properties: {
    requestId: { type: "string" },
    status: { type: "string", enum: ["PENDING", "ISSUED", "FAILED"] },
    coupon: couponSchema,
    reason: { type: "string" },
  },
} as const;

export async function userReadRoutes(app: FastifyInstance, deps: Deps): Promise<void> {
  app.addHook("onRequest", app.authenticate);

  app.get<{ Params: { requestId: string } }>(
    "/issue-requests/:requestId",
    {
      schema: {
        tags: ["issue"],
        summary: "Poll an issue request: PENDING until the coupon is persisted, then ISSUED or FAILED",
        security: bearer,
        params: {
          type: "object",
          required: ["requestId"],
          properties: { requestId: { type: "string", maxLength: 80 } },
        },
        response: { 200: requestSchema, ...problems(401, 404) },
      },
    },
    async (request) => {
      const { userId } = identityOf(request);
      const requestId = request.params.requestId;
      const policyId = policyIdOfRequest(requestId);
      const notFound = new DomainError("REQUEST_NOT_FOUND", "No such issue request for this user");
      if (!policyId) throw notFound;
      // Redis first: the worker commits to PostgreSQL before it forgets the pending admission,
      // so a request missing from Redis is either in PostgreSQL or unknown.
      const pending = await getPending(deps.redis, deps.keys, policyId, requestId);
      if (pending) {
        if (pending.userId !== userId) throw notFound;
        return { requestId, status: "PENDING" };
      }
      const row = await deps.prisma.issueRequest.findUnique({ where: { id: requestId } });
      if (!row || row.userId.toString() !== userId) throw notFound;
      if (row.status === "FAILED") return { requestId, status: "FAILED", reason: row.reason ?? "UNKNOWN" };
      const coupon = row.couponId ? await deps.prisma.couponIssue.findUnique({ where: { id: row.couponId } }) : null;
      return coupon ? { requestId, status: "ISSUED", coupon: couponView(coupon) } : { requestId, status: "ISSUED" };
    },
  );

  app.get<{ Querystring: { status?: CouponStatus; limit?: string; after?: string } }>(
    "/me/coupons",
    {
      schema: {
        tags: ["coupons"],
        summary: "The caller's coupons, newest first (paged); served from a per-user cache every change invalidates",
        security: bearer,
        querystring: {
          ...pageQuery,
          properties: { ...pageQuery.properties, status: { type: "string", enum: COUPON_STATUSES } },
        },
        response: { 200: { type: "array", items: couponSchema }, ...problems(400, 401) },
      },
    },
    async (request, reply) => {
      const { userId } = identityOf(request);
      const page = readPage(request.query);
      const status = request.query.status ?? null;
      // Keyed by the query as read, so `?limit=100` and no limit share one entry.
      const query = `${status ?? "all"}:${page.limit}:${page.after ?? ""}`;
      const cached = await readCouponCache(deps.redis, deps.keys, userId, query);
      const hit = cached.hit === null ? null : parseCachedPage(cached.hit);
      if (hit !== null) {
        if (hit.link !== null) reply.header("link", hit.link);
        return reply.type(JSON_TYPE).send(hit.body);
      }
      const rows = await deps.prisma.couponIssue.findMany({
        where: {
          userId: BigInt(userId),
          ...(status ? { status } : {}),
          ...(page.after !== null ? { id: { lt: page.after } } : {}),
        },
        orderBy: { id: "desc" },
        take: page.limit,
      });
      linkNext(request, reply, page, rows.length, rows.at(-1)?.id);
      const link = reply.getHeader("link");
      // Serialized by the route's own response schema, exactly as an uncached answer would be.
      const body = reply.serialize(rows.map(couponView));
      const entry: CachedPage = {
        body: typeof body === "string" ? body : Buffer.from(body as ArrayBuffer).toString(),
        link: typeof link === "string" ? link : null,
      };
      // Stored under the version read BEFORE the query: a change committed meanwhile has bumped
      // the version, so this entry is never read again and cannot hide that change.
      await writeCouponCache(deps.redis, deps.keys, userId, query, cached.version, JSON.stringify(entry));
      return reply.type(JSON_TYPE).send(entry.body);
    },
  );
}

const JSON_TYPE = "application/json; charset=utf-8";

interface CachedPage {
  /** the JSON body as served */
  body: string;
  link: string | null;
}

function parseCachedPage(raw: string): CachedPage | null {
  try {
    const v = JSON.parse(raw) as Partial<CachedPage>;
    return typeof v.body === "string" && (typeof v.link === "string" || v.link === null) ? { body: v.body, link: v.link } : null;
  } catch {
    return null;
  }
}
