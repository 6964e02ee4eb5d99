// The order service's moves on a user's coupon: reserve at checkout, then use or release.
// Someone else's coupon is 404, never 403.
import type { FastifyInstance } from "fastify";
import { identityOf } from "../plugins/auth.js";
import type { CouponService } from "../services/coupon-service.js";
import { bearer, couponNumberParams, couponSchema, problems, reservationIdSchema } from "./schemas.js";

interface Params {
  couponNumber: string;
}

const reservationBody = {
  type: "object",
  additionalProperties: false,
  required: ["reservationId"],
  properties: { reservationId: reservationIdSchema },
} as const;

export async function couponTransitionRoutes(app: FastifyInstance, opts: { coupons: CouponService }): Promise<void> {
  const { coupons } = opts;
  app.addHook("onRequest", app.authenticate);

  app.post<{ Params: Params; Body: { orderId: string } }>(
    "/me/coupons/:couponNumber/reserve",
    {
      schema: {
        tags: ["coupons"],
        summary: "Hold an ISSUED coupon for one order; answers the reservationId to use or release it with",
        security: bearer,
        params: couponNumberParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["orderId"],
          properties: {
            orderId: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$", description: "the order's id, 1 to 100 of A-Z a-z 0-9 . _ : -" },
          },
        },
        response: { 200: couponSchema, ...problems(400, 401, 404, 409, 410) },
      },
    },
    async (request) =>
      coupons.reserve(identityOf(request).userId, request.params.couponNumber, request.body.orderId, request.ip),
  );

  app.post<{ Params: Params; Body: { reservationId: string } }>(
    "/me/coupons/:couponNumber/use",
    {
      schema: {
        tags: ["coupons"],
        summary: "Spend a RESERVED coupon on its order",
        security: bearer,
        params: couponNumberParams,
        body: reservationBody,
        response: { 200: couponSchema, ...problems(400, 401, 404, 409) },
      },
    },
    async (request) =>
      coupons.use(identityOf(request).userId, request.params.couponNumber, request.body.reservationId, request.ip),
  );

  app.post<{ Params: Params; Body: { reservationId: string } }>(
    "/me/coupons/:couponNumber/release",
    {
      schema: {
        tags: ["coupons"],
        summary: "Give a RESERVED coupon back to its holder (ISSUED again)",
        security: bearer,
        params: couponNumberParams,
        body: reservationBody,
        response: { 200: couponSchema, ...problems(400, 401, 404, 409) },
      },
    },
    async (request) =>
      coupons.release(identityOf(request).userId, request.params.couponNumber, request.body.reservationId, request.ip),
  );
}
