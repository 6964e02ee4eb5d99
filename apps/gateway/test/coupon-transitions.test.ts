// Reserve, use, release and cancel: every move of the spec's table, every refused one, and what
// each leaves in coupon_audit and outbox_events (a refusal leaves nothing).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatCouponNumber, generateCouponNumber } from "@coupon/domain";
import {
  act,
  cancel,
  directPolicy,
  freshUserId,
  insertCoupon,
  myCoupons,
  trail,
  type TestCoupon,
} from "../../../test/support/coupons.js";
import { createPolicy, startHarness, type Harness } from "../../../test/support/harness.js";
import { startWorker, type Proc } from "../../../test/support/processes.js";
import { bearer, userToken } from "../../../test/support/tokens.js";
import { waitFor } from "../../../test/support/wait.js";

let h: Harness;
let policyId: string;
beforeAll(async () => {
  h = await startHarness();
  policyId = await directPolicy(h.app);
});
afterAll(async () => {
  await h?.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function reserved(c: TestCoupon, orderId = "order-1"): Promise<string> {
  const res = await act(h.app, c.userId, c.printed, "reserve", { orderId });
  expect(res.statusCode).toBe(200);
  return res.json().reservationId;
}

async function expectRefused(res: { statusCode: number; json: () => any }, status: number, code: string, c: TestCoupon, before: number) {
  expect(res.statusCode).toBe(status);
  expect(res.json().code).toBe(code);
  const t = await trail(h.prisma, c.id);
  // Nothing written for a refusal: the audit and outbox of the coupon did not grow.
  expect(t.audit.length).toBe(before);
  expect(t.events.length).toBe(before);
}

describe("the moves of the table", () => {
  it("reserve: ISSUED -> RESERVED with orderId, reservedAt and a fresh reservationId; audited and evented", async () => {
    const c = await insertCoupon(h.prisma, policyId);
    const res = await act(h.app, c.userId, c.printed, "reserve", { orderId: "ord-42" });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ couponNumber: c.printed, policyId, status: "RESERVED", orderId: "ord-42", usedAt: null });
    expect(body.reservationId).toMatch(UUID);
    expect(Date.parse(body.reservedAt)).toBeGreaterThan(Date.now() - 60_000);

    const row = await h.prisma.couponIssue.findUniqueOrThrow({ where: { id: c.id } });
    expect(row).toMatchObject({ status: "RESERVED", orderId: "ord-42", reservationId: body.reservationId });

    const { audit, events } = await trail(h.prisma, c.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: "RESERVED",
      userId: BigInt(c.userId),
      clientIp: "127.0.0.1",
      details: { orderId: "ord-42", reservationId: body.reservationId },
    });
    expect(events).toHaveLength(1);
    expect(events[0]?.eventType).toBe("CouponReserved");
    expect(events[0]?.payload).toEqual({
      type: "CouponReserved",
      couponId: c.id.toString(),
      couponNumber: c.number,
      policyId,
      userId: c.userId,
      status: "RESERVED",
      occurredAt: body.reservedAt,
      orderId: "ord-42",
      reservationId: body.reservationId,
    });
    expect(audit[0]?.createdAt.toISOString()).toBe(body.reservedAt);
  });

  it("use: RESERVED -> USED with the matching reservationId", async () => {
    const c = await insertCoupon(h.prisma, policyId);
    const rid = await reserved(c, "ord-use");
    const res = await act(h.app, c.userId, c.number, "use", { reservationId: rid });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: "USED", orderId: "ord-use", reservationId: rid });
    expect(Date.parse(res.json().usedAt)).toBeGreaterThan(Date.now() - 60_000);
    const { audit, events } = await trail(h.prisma, c.id);
    expect(audit.map((a) => a.action)).toEqual(["RESERVED", "USED"]);
    expect(audit[1]?.details).toEqual({ orderId: "ord-use", reservationId: rid });
    expect(events.map((e) => e.eventType)).toEqual(["CouponReserved", "CouponUsed"]);
    expect(events[1]?.payload).toMatchObject({ type: "CouponUsed", status: "USED", orderId: "ord-use", reservationId: rid, occurredAt: res.json().usedAt });
  });

  it("release: RESERVED -> ISSUED, reservation cleared; the event names the released order", async () => {
    const c = await insertCoupon(h.prisma, policyId);
    const rid = await reserved(c, "ord-rel");
    const res = await act(h.app, c.userId, c.printed.toLowerCase(), "release", { reservationId: rid });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: "ISSUED", reservedAt: null, orderId: null, reservationId: null, usedAt: null });
    const { audit, events } = await trail(h.prisma, c.id);
    expect(audit.map((a) => a.action)).toEqual(["RESERVED", "RELEASED"]);
    expect(audit[1]?.details).toEqual({ orderId: "ord-rel", reservationId: rid, reason: "RELEASED" });
    expect(events[1]?.payload).toMatchObject({ type: "CouponReleased", status: "ISSUED", orderId: "ord-rel", reservationId: rid, reason: "RELEASED" });
    // Released, it can be reserved again, under a new reservation.
    const again = await reserved(c, "ord-rel-2");
    expect(again).not.toBe(rid);
  });

  it("cancel: an ISSUED coupon is revoked, a USED one refunded; both end CANCELLED", async () => {
    const issued = await insertCoupon(h.prisma, policyId);
    const revoke = await cancel(h.app, issued.printed, "fraud");
    expect(revoke.statusCode).toBe(200);
    expect(revoke.json()).toMatchObject({ status: "CANCELLED", couponNumber: issued.printed });
    const t1 = await trail(h.prisma, issued.id);
    expect(t1.audit[0]).toMatchObject({ action: "CANCELLED", userId: BigInt(issued.userId) });
    expect(t1.audit[0]?.details).toEqual({ reason: "fraud", from: "ISSUED", kind: "REVOKED", adminId: "1" });
    expect(t1.events[0]?.payload).toMatchObject({ type: "CouponCancelled", status: "CANCELLED", reason: "fraud", userId: issued.userId });

    const used = await insertCoupon(h.prisma, policyId);
    const rid = await reserved(used, "ord-refund");
    expect((await act(h.app, used.userId, used.printed, "use", { reservationId: rid })).statusCode).toBe(200);
    const refund = await cancel(h.app, used.number, "refund of ord-refund");
    expect(refund.statusCode).toBe(200);
    expect(refund.json()).toMatchObject({ status: "CANCELLED", orderId: "ord-refund" });
    const t2 = await trail(h.prisma, used.id);
    expect(t2.audit.map((a) => a.action)).toEqual(["RESERVED", "USED", "CANCELLED"]);
    expect(t2.audit[2]?.details).toMatchObject({ from: "USED", kind: "REFUNDED", orderId: "ord-refund" });
    expect(t2.events.map((e) => e.eventType)).toEqual(["CouponReserved", "CouponUsed", "CouponCancelled"]);
  });
});

describe("refusals: 409 INVALID_STATE, 410 EXPIRED, 404, and nothing written", () => {
  it("refuses every move the table does not allow", async () => {
    // ISSUED: use and release are not moves of the table.
    const c = await insertCoupon(h.prisma, policyId);
    const anyRid = "00000000-0000-4000-8000-000000000000";
    await expectRefused(await act(h.app, c.userId, c.printed, "use", { reservationId: anyRid }), 409, "INVALID_STATE", c, 0);
    await expectRefused(await act(h.app, c.userId, c.printed, "release", { reservationId: anyRid }), 409, "INVALID_STATE", c, 0);

    // RESERVED: a second reserve and an admin cancel are refused.
    const rid = await reserved(c);
    await expectRefused(await act(h.app, c.userId, c.printed, "reserve", { orderId: "other" }), 409, "INVALID_STATE", c, 1);
    await expectRefused(await cancel(h.app, c.printed), 409, "INVALID_STATE", c, 1);

    // USED: reserve, use, release refused (cancel is the refund, tested above).
    expect((await act(h.app, c.userId, c.printed, "use", { reservationId: rid })).statusCode).toBe(200);
    await expectRefused(await act(h.app, c.userId, c.printed, "reserve", { orderId: "o" }), 409, "INVALID_STATE", c, 2);
    await expectRefused(await act(h.app, c.userId, c.printed, "use", { reservationId: rid }), 409, "INVALID_STATE", c, 2);
    await expectRefused(await act(h.app, c.userId, c.printed, "release", { reservationId: rid }), 409, "INVALID_STATE", c, 2);

    // CANCELLED: nothing, not even a second cancel.
    expect((await cancel(h.app, c.printed)).statusCode).toBe(200);
    for (const res of [
      await act(h.app, c.userId, c.printed, "reserve", { orderId: "o" }),
      await act(h.app, c.userId, c.printed, "use", { reservationId: rid }),
      await act(h.app, c.userId, c.printed, "release", { reservationId: rid }),
      await cancel(h.app, c.printed),
    ]) {
      await expectRefused(res, 409, "INVALID_STATE", c, 3);
    }
    expect((await h.prisma.couponIssue.findUniqueOrThrow({ where: { id: c.id } })).status).toBe("CANCELLED");
  });

  it("refuses use and release with another reservationId, and leaves the reservation alone", async () => {
    const c = await insertCoupon(h.prisma, policyId);
    const rid = await reserved(c, "ord-x");
    const wrong = "11111111-1111-4111-8111-111111111111";
    await expectRefused(await act(h.app, c.userId, c.printed, "use", { reservationId: wrong }), 409, "INVALID_STATE", c, 1);
    await expectRefused(await act(h.app, c.userId, c.printed, "release", { reservationId: wrong }), 409, "INVALID_STATE", c, 1);
    const row = await h.prisma.couponIssue.findUniqueOrThrow({ where: { id: c.id } });
    expect(row).toMatchObject({ status: "RESERVED", reservationId: rid, orderId: "ord-x" });
    // An upper-case spelling of the right id is the same id.
    expect((await act(h.app, c.userId, c.printed, "use", { reservationId: rid.toUpperCase() })).statusCode).toBe(200);
  });

  it("answers 410 EXPIRED to reserving a coupon past its expiry, before and after the expiry job marks it", async () => {
    const c = await insertCoupon(h.prisma, policyId);
    await h.prisma.$executeRaw`UPDATE coupon_issues SET expires_at = now() - interval '1 second' WHERE id = ${c.id}`;
    await expectRefused(await act(h.app, c.userId, c.printed, "reserve", { orderId: "late" }), 410, "EXPIRED", c, 0);
    expect((await h.prisma.couponIssue.findUniqueOrThrow({ where: { id: c.id } })).status).toBe("ISSUED");
    await h.prisma.couponIssue.update({ where: { id: c.id }, data: { status: "EXPIRED" } });
    await expectRefused(await act(h.app, c.userId, c.printed, "reserve", { orderId: "late" }), 410, "EXPIRED", c, 0);
    // Other moves of an expired coupon are plain state refusals.
    await expectRefused(await act(h.app, c.userId, c.printed, "use", { reservationId: "00000000-0000-4000-8000-000000000000" }), 409, "INVALID_STATE", c, 0);
    await expectRefused(await cancel(h.app, c.printed), 409, "INVALID_STATE", c, 0);
  });

  it("answers 404 COUPON_NOT_FOUND for someone else's coupon and an unknown one, never 403", async () => {
    const c = await insertCoupon(h.prisma, policyId);
    const stranger = freshUserId();
    await expectRefused(await act(h.app, stranger, c.printed, "reserve", { orderId: "steal" }), 404, "COUPON_NOT_FOUND", c, 0);
    const rid = await reserved(c);
    await expectRefused(await act(h.app, stranger, c.printed, "use", { reservationId: rid }), 404, "COUPON_NOT_FOUND", c, 1);
    await expectRefused(await act(h.app, stranger, c.printed, "release", { reservationId: rid }), 404, "COUPON_NOT_FOUND", c, 1);
    const unknown = formatCouponNumber(generateCouponNumber());
    const res = await act(h.app, c.userId, unknown, "reserve", { orderId: "o" });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe("COUPON_NOT_FOUND");
    const admin = await cancel(h.app, unknown);
    expect(admin.statusCode).toBe(404);
    expect(admin.json().code).toBe("COUPON_NOT_FOUND");
  });
});

describe("bad input: 400 before any lookup, 401/403 for the wrong caller", () => {
  it("rejects malformed numbers and wrong check characters with INVALID_COUPON_NUMBER, without a lookup", async () => {
    const c = await insertCoupon(h.prisma, policyId);
    // One symbol off, or two neighbours swapped: the check character no longer matches.
    const last = c.number.at(-1) as string;
    const typo = c.number.slice(0, -1) + (last === "2" ? "3" : "2");
    const swapped = c.number[1] !== c.number[0] ? `${c.number[1]}${c.number[0]}${c.number.slice(2)}` : typo;
    const bad = ["nope", "ABC", "0".repeat(18), `${c.printed}X`, typo, swapped, "O0O0O0-O0O0O0-O0O0O0", "%20"];
    // A gateway whose PostgreSQL cannot be reached: any lookup would fail with a 503, so a 400
    // here proves the number was refused before PostgreSQL was asked.
    const blind = await startHarness({ DATABASE_URL: "postgresql://postgres@127.0.0.1:1/unreachable", LOG_LEVEL: "fatal" });
    try {
      for (const n of bad) {
        for (const app of [h.app, blind.app]) {
          const res = await act(app, c.userId, encodeURIComponent(n), "reserve", { orderId: "o" });
          expect(res.statusCode, n).toBe(400);
          expect(res.json().code, n).toBe("INVALID_COUPON_NUMBER");
          const admin = await cancel(app, encodeURIComponent(n));
          expect(admin.statusCode, n).toBe(400);
          expect(admin.json().code, n).toBe("INVALID_COUPON_NUMBER");
        }
      }
      // The same gateway with a well-formed number does go to PostgreSQL (and fails): the control.
      expect((await act(blind.app, c.userId, c.printed, "reserve", { orderId: "o" })).statusCode).toBe(503);
    } finally {
      await blind.close();
    }
    expect((await h.prisma.couponIssue.findUniqueOrThrow({ where: { id: c.id } })).status).toBe("ISSUED");
    expect((await trail(h.prisma, c.id)).audit).toHaveLength(0);
  });

  it("validates bodies: orderId 1..100 safe characters, reservationId a UUID, reason 1..500, no other fields", async () => {
    const c = await insertCoupon(h.prisma, policyId);
    for (const payload of [{}, { orderId: "" }, { orderId: "x".repeat(101) }, { orderId: "a b" }, { orderId: "<script>" }, { orderId: 7 }, { orderId: "o", extra: 1 }]) {
      const res = await act(h.app, c.userId, c.printed, "reserve", payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().code).toBe("VALIDATION");
    }
    expect((await act(h.app, c.userId, c.printed, "reserve", { orderId: "x".repeat(100) })).statusCode).toBe(200);
    for (const payload of [{}, { reservationId: "abc" }, { reservationId: 1 }, { reservationId: "00000000-0000-4000-8000-000000000000", more: true }]) {
      expect((await act(h.app, c.userId, c.printed, "use", payload)).statusCode).toBe(400);
      expect((await act(h.app, c.userId, c.printed, "release", payload)).statusCode).toBe(400);
    }
    for (const reason of ["", "   ", "r".repeat(501)]) expect((await cancel(h.app, c.printed, reason)).statusCode).toBe(400);
    const { audit } = await trail(h.prisma, c.id);
    expect(audit.map((a) => a.action)).toEqual(["RESERVED"]);
  });

  it("needs a user token for the user moves and an admin token for cancel", async () => {
    const c = await insertCoupon(h.prisma, policyId);
    const anon = await h.app.inject({ method: "POST", url: `/me/coupons/${c.printed}/reserve`, payload: { orderId: "o" } });
    expect(anon.statusCode).toBe(401);
    const noToken = await h.app.inject({ method: "POST", url: `/admin/coupons/${c.printed}/cancel`, payload: { reason: "r" } });
    expect(noToken.statusCode).toBe(401);
    expect(noToken.json().code).toBe("UNAUTHORIZED");
    const asUser = await cancel(h.app, c.printed, "r", userToken(c.userId));
    expect(asUser.statusCode).toBe(403);
    expect(asUser.json().code).toBe("FORBIDDEN");
    expect((await h.prisma.couponIssue.findUniqueOrThrow({ where: { id: c.id } })).status).toBe("ISSUED");
    expect((await trail(h.prisma, c.id)).audit).toHaveLength(0);
  });
});

describe("documentation", () => {
  it("publishes the four moves in the OpenAPI document", async () => {
    const doc = (await h.app.inject({ url: "/docs/json" })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/me/coupons/{couponNumber}/reserve",
        "/me/coupons/{couponNumber}/use",
        "/me/coupons/{couponNumber}/release",
        "/admin/coupons/{couponNumber}/cancel",
      ]),
    );
  });
});

describe("a coupon issued through the real path", () => {
  let worker: Proc | undefined;
  afterAll(async () => {
    await worker?.kill("SIGTERM");
  });

  it("is reserved, used and refunded, and /me/coupons follows every step", async () => {
    worker = await startWorker(h.env);
    const p = await createPolicy(h.app, { totalQuantity: 3 });
    const userId = freshUserId();
    // An empty list cached before the coupon exists: the worker's bump must retire it.
    expect((await myCoupons(h.app, userId)).json()).toEqual([]);
    const issued = await h.app.inject({ method: "POST", url: `/policies/${p.id}/issue`, headers: bearer(userToken(userId)) });
    expect(issued.statusCode).toBe(202);
    const done = await waitFor("the coupon", async () => {
      const r = (await h.app.inject({ url: `/issue-requests/${issued.json().requestId}`, headers: bearer(userToken(userId)) })).json();
      return r.status === "ISSUED" ? r : null;
    });
    const number: string = done.coupon.couponNumber;
    const status = async () => (await myCoupons(h.app, userId)).json()[0].status;
    expect(await status()).toBe("ISSUED");
    const r = await act(h.app, userId, number, "reserve", { orderId: "real-1" });
    expect(r.statusCode).toBe(200);
    expect(await status()).toBe("RESERVED");
    expect((await act(h.app, userId, number, "use", { reservationId: r.json().reservationId })).statusCode).toBe(200);
    expect(await status()).toBe("USED");
    expect((await cancel(h.app, number, "refund")).statusCode).toBe(200);
    expect(await status()).toBe("CANCELLED");
    const row = await h.prisma.couponIssue.findFirstOrThrow({ where: { policyId: BigInt(p.id), userId: BigInt(userId) } });
    const { audit, events } = await trail(h.prisma, row.id);
    expect(audit.map((a) => a.action)).toEqual(["ISSUED", "RESERVED", "USED", "CANCELLED"]);
    expect(events.map((e) => e.eventType)).toEqual(["CouponIssued", "CouponReserved", "CouponUsed", "CouponCancelled"]);
  });
});
