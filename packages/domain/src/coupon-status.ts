// The coupon's life, as the spec's table fixes it. Every other move is refused.

export const COUPON_STATUSES = ["ISSUED", "RESERVED", "USED", "EXPIRED", "CANCELLED"] as const;
export type CouponStatus = (typeof COUPON_STATUSES)[number];

const NEXT: Readonly<Record<CouponStatus, readonly CouponStatus[]>> = {
  ISSUED: ["RESERVED", "EXPIRED", "CANCELLED"],
  RESERVED: ["USED", "ISSUED"],
  USED: ["CANCELLED"],
  EXPIRED: [],
  CANCELLED: [],
};

export function canTransition(from: CouponStatus, to: CouponStatus): boolean {
  return NEXT[from].includes(to);
}

export function isCouponStatus(value: unknown): value is CouponStatus {
  return typeof value === "string" && (COUPON_STATUSES as readonly string[]).includes(value);
}
