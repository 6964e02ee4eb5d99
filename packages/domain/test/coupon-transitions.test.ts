import { describe, expect, it } from "vitest";
import {
  AUDIT_ACTIONS,
  COUPON_ACTIONS,
  COUPON_EVENT_TYPES,
  COUPON_STATUSES,
  COUPON_TRANSITIONS,
  canTransition,
  transitionRefusal,
  type CouponStatus,
} from "../src/index.js";

describe("coupon transition table", () => {
  it("names the spec's moves: reserve, use, release, and cancel as revoke or refund", () => {
    expect(COUPON_TRANSITIONS.reserve).toMatchObject({ from: ["ISSUED"], to: "RESERVED", event: "CouponReserved", audit: "RESERVED" });
    expect(COUPON_TRANSITIONS.use).toMatchObject({ from: ["RESERVED"], to: "USED", event: "CouponUsed", audit: "USED", needsReservation: true });
    expect(COUPON_TRANSITIONS.release).toMatchObject({ from: ["RESERVED"], to: "ISSUED", event: "CouponReleased", audit: "RELEASED", needsReservation: true });
    expect(COUPON_TRANSITIONS.cancel).toMatchObject({ from: ["ISSUED", "USED"], to: "CANCELLED", event: "CouponCancelled", audit: "CANCELLED" });
  });

  it("only moves the state machine allows, with known events and audit verbs", () => {
    for (const action of COUPON_ACTIONS) {
      const t = COUPON_TRANSITIONS[action];
      for (const from of t.from) expect(canTransition(from, t.to), `${action}: ${from}`).toBe(true);
      expect(COUPON_EVENT_TYPES).toContain(t.event);
      expect(AUDIT_ACTIONS).toContain(t.audit);
    }
    // Together with expiry (the scheduler's), they cover every edge of the state machine.
    const covered = new Set(COUPON_ACTIONS.flatMap((a) => COUPON_TRANSITIONS[a].from.map((f) => `${f}>${COUPON_TRANSITIONS[a].to}`)));
    covered.add("ISSUED>EXPIRED");
    for (const from of COUPON_STATUSES) for (const to of COUPON_STATUSES) expect(covered.has(`${from}>${to}`)).toBe(canTransition(from, to));
  });

  it("is frozen", () => {
    expect(() => ((COUPON_TRANSITIONS.reserve.from as CouponStatus[]).push("USED"))).toThrow();
  });
});

describe("refusals", () => {
  const snap = (status: CouponStatus, pastExpiry = false) => ({ status, pastExpiry, reservationId: null });
  it("no coupon (or not the caller's) is 404", () => {
    for (const a of COUPON_ACTIONS) expect(transitionRefusal(a, null)).toBe("COUPON_NOT_FOUND");
  });
  it("reserving an expired coupon is 410, whether or not the expiry job has run", () => {
    expect(transitionRefusal("reserve", snap("ISSUED", true))).toBe("EXPIRED");
    expect(transitionRefusal("reserve", snap("EXPIRED", true))).toBe("EXPIRED");
  });
  it("everything else is 409", () => {
    expect(transitionRefusal("reserve", snap("ISSUED"))).toBe("INVALID_STATE"); // lost a race
    expect(transitionRefusal("reserve", snap("RESERVED", true))).toBe("INVALID_STATE");
    expect(transitionRefusal("use", snap("ISSUED", true))).toBe("INVALID_STATE");
    expect(transitionRefusal("use", snap("RESERVED"))).toBe("INVALID_STATE"); // another reservation
    expect(transitionRefusal("release", snap("USED"))).toBe("INVALID_STATE");
    expect(transitionRefusal("cancel", snap("EXPIRED", true))).toBe("INVALID_STATE");
    expect(transitionRefusal("cancel", snap("CANCELLED"))).toBe("INVALID_STATE");
  });
});
