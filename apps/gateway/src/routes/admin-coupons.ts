// Admin: cancel a coupon. An ISSUED one is revoked, a USED one refunded; both end CANCELLED.
import type { FastifyInstance } from "fastify";
import { identityOf } from "../plugins/auth.js";
import type { CouponService } from "../services/coupon-service.js";
import { bearer, couponNumberParams, couponSchema, problems } from "./schemas.js";

export async function adminCouponRoutes(app: FastifyInstance, opts: { coupons: CouponService }): Promise<void> {
  const { coupons } = opts;
  app.addHook("onRequest", app.authenticateAdmin);

  app.post<{ Params: { couponNumber: string }; Body: { reason: string } }>(
    "/admin/coupons/:couponNumber/cancel",
    {
      schema: {
        tags: ["admin"],
        summary: "Revoke an ISSUED coupon or refund a USED one",
        security: bearer,
        params: couponNumberParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["reason"],
          properties: { reason: { type: "string", minLength: 1, maxLength: 500, pattern: "\\S" } },
        },
        response: { 200: couponSchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      coupons.cancel(identityOf(request).userId, request.params.couponNumber, request.body.reason, request.ip),
  );
}
