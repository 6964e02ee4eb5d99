// What each coupon action may do after issue: the statuses it starts from, the status it leaves,
// and the event and audit verb it writes. The adapters build their one conditional UPDATE from
// this table, and the refusal of a failed one is decided here, from one read of the coupon.
import { canTransition, type CouponStatus } from "./coupon-status.js";
import type { ErrorCode } from "./errors.js";
import type { AuditAction, CouponEventType } from "./events.js";

export const COUPON_ACTIONS = ["reserve", "use", "release", "cancel"] as const;
export type CouponAction = (typeof COUPON_ACTIONS)[number];

export interface CouponTransition {
  from: readonly CouponStatus[];
  to: CouponStatus;
  event: CouponEventType;
  audit: AuditAction;
  /** the caller must present the coupon's current reservationId */
  needsReservation: boolean;
  /** refused once the coupon is past expiresAt */
  refusedWhenExpired: boolean;
}

function rule(t: CouponTransition): CouponTransition {
  // The table may only name moves the state machine allows: a typo here fails at load, not in production.
  for (const from of t.from) {
    if (!canTransition(from, t.to)) throw new Error(`transition ${from} -> ${t.to} is not in the state machine`);
  }
  return Object.freeze({ ...t, from: Object.freeze([...t.from]) });
}

export const COUPON_TRANSITIONS: Readonly<Record<CouponAction, CouponTransition>> = Object.freeze({
  reserve: rule({ from: ["ISSUED"], to: "RESERVED", event: "CouponReserved", audit: "RESERVED", needsReservation: false, refusedWhenExpired: true }),
  use: rule({ from: ["RESERVED"], to: "USED", event: "CouponUsed", audit: "USED", needsReservation: true, refusedWhenExpired: false }),
  release: rule({ from: ["RESERVED"], to: "ISSUED", event: "CouponReleased", audit: "RELEASED", needsReservation: true, refusedWhenExpired: false }),
  // ISSUED is a revocation, USED a refund; both end CANCELLED.
  cancel: rule({ from: ["ISSUED", "USED"], to: "CANCELLED", event: "CouponCancelled", audit: "CANCELLED", needsReservation: false, refusedWhenExpired: false }),
});

/** The coupon as the refusal read sees it; null when there is none (or it is someone else's). */
export interface CouponSnapshot {
  status: CouponStatus;
  /** expiresAt is at or before the database's now */
  pastExpiry: boolean;
  reservationId: string | null;
}

/**
 * Why an action that changed nothing was refused. An expired coupon asked to be reserved is
 * 410 whether or not the expiry job has already marked it EXPIRED, so the answer does not
 * depend on when that job last ran.
 */
export function transitionRefusal(action: CouponAction, coupon: CouponSnapshot | null): ErrorCode {
  if (!coupon) return "COUPON_NOT_FOUND";
  const t = COUPON_TRANSITIONS[action];
  if (t.refusedWhenExpired && (coupon.status === "EXPIRED" || (t.from.includes(coupon.status) && coupon.pastExpiry))) {
    return "EXPIRED";
  }
  return "INVALID_STATE";
}
