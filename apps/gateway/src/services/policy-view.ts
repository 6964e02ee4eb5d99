// How a policy and a coupon look in JSON: ids as strings, discount as one object.
import type { CouponIssue, CouponPolicy } from "@coupon/db";
import { formatCouponNumber } from "@coupon/domain";

/** A policy row as Prisma reads it. */
export type PolicyRecord = CouponPolicy;

export function policyView(p: PolicyRecord, admitted: number | null) {
  const taken = Math.max(p.issuedCount, admitted ?? 0);
  return {
    id: p.id.toString(),
    name: p.name,
    issueType: p.issueType,
    code: p.code,
    totalQuantity: p.totalQuantity,
    perUserLimit: p.perUserLimit,
    validDays: p.validDays,
    validUntil: p.validUntil?.toISOString() ?? null,
    issueStartAt: p.issueStartAt.toISOString(),
    issueEndAt: p.issueEndAt.toISOString(),
    status: p.status,
    discount: { type: p.discountType, value: p.discountValue },
    issuedCount: p.issuedCount,
    remainingQuantity: p.totalQuantity === null ? null : Math.max(0, p.totalQuantity - taken),
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

export type CouponRecord = Pick<
  CouponIssue,
  "policyId" | "couponNumber" | "status" | "issuedAt" | "expiresAt" | "reservedAt" | "usedAt" | "orderId" | "reservationId"
>;

export function couponView(c: CouponRecord) {
  return {
    couponNumber: formatCouponNumber(c.couponNumber),
    policyId: c.policyId.toString(),
    status: c.status,
    issuedAt: c.issuedAt.toISOString(),
    expiresAt: c.expiresAt.toISOString(),
    reservedAt: c.reservedAt?.toISOString() ?? null,
    usedAt: c.usedAt?.toISOString() ?? null,
    orderId: c.orderId,
    reservationId: c.reservationId,
  };
}
