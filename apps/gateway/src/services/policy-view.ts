// How a policy and a coupon look in JSON: ids as strings, discount as one object.
import { formatCouponNumber } from "@coupon/domain";

export interface PolicyRecord {
  id: bigint;
  name: string;
  issueType: string;
  code: string | null;
  totalQuantity: number | null;
  perUserLimit: number;
  validDays: number | null;
  validUntil: Date | null;
  issueStartAt: Date;
  issueEndAt: Date;
  status: string;
  discountType: string;
  discountValue: number;
  issuedCount: number;
  createdAt: Date;
  updatedAt: Date;
}

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

export interface CouponRecord {
  policyId: bigint;
  couponNumber: string;
  status: string;
  issuedAt: Date;
  expiresAt: Date;
  reservedAt: Date | null;
  usedAt: Date | null;
  orderId: string | null;
  reservationId: string | null;
}

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
