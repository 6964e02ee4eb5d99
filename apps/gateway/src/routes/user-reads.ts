// What a user reads back: the fate of an issue request, and their coupons.
import { COUPON_STATUSES, DomainError, policyIdOfRequest, type CouponStatus } from "@coupon/domain";
import type { PrismaClient } from "@coupon/db/client";
import { getPending, type KeySpace, type RedisClient } from "@coupon/redis";
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
        summary: "The caller's coupons, newest first (paged)",
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
      const rows = await deps.prisma.couponIssue.findMany({
        where: {
          userId: BigInt(userId),
          ...(request.query.status ? { status: request.query.status } : {}),
          ...(page.after !== null ? { id: { lt: page.after } } : {}),
        },
        orderBy: { id: "desc" },
        take: page.limit,
      });
      linkNext(request, reply, page, rows.length, rows.at(-1)?.id);
      return rows.map(couponView);
    },
  );
}
