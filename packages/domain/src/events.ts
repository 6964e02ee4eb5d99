// The events other services consume, one per coupon transition. They are written to the outbox in
// the transaction that makes the change and relayed from there (at least once, in order per coupon).

export const COUPON_EVENT_TYPES = [
  "CouponIssued",
  "CouponReserved",
  "CouponUsed",
  "CouponReleased",
  "CouponExpired",
  "CouponCancelled",
] as const;
export type CouponEventType = (typeof COUPON_EVENT_TYPES)[number];

/** The payload of every coupon event. Ids are decimal strings; times are ISO-8601 UTC. */
export interface CouponEventPayload {
  type: CouponEventType;
  couponId: string;
  couponNumber: string;
  policyId: string;
  userId: string;
  /** the coupon's status after the change */
  status: "ISSUED" | "RESERVED" | "USED" | "EXPIRED" | "CANCELLED";
  occurredAt: string;
  /** present on CouponIssued */
  requestId?: string;
  expiresAt?: string;
  /** present on CouponReserved, CouponUsed, CouponReleased */
  orderId?: string;
  reservationId?: string;
  /** present on CouponCancelled; on CouponReleased: "RELEASED" or "TIMEOUT" */
  reason?: string;
}

/** Audit actions: the event's verb, as the audit log records it. */
export const AUDIT_ACTIONS = ["ISSUED", "RESERVED", "USED", "RELEASED", "EXPIRED", "CANCELLED"] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
