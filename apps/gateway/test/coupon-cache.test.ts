// GET /me/coupons through the versioned per-user cache: repeated reads are served from Redis
// (body and Link header), and no read sent after a change's answer shows the coupon as it was.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { act, cancel, directPolicy, freshUserId, insertCoupon, myCoupons, type TestCoupon } from "../../../test/support/coupons.js";
import { startHarness, type Harness } from "../../../test/support/harness.js";

let h: Harness;
let policyId: string;
beforeAll(async () => {
  h = await startHarness({ DB_POOL_SIZE: "16" });
  policyId = await directPolicy(h.app);
});
afterAll(async () => {
  await h?.close();
});

const statusOf = (list: { couponNumber: string; status: string }[], c: TestCoupon) =>
  list.find((x) => x.couponNumber === c.printed)?.status;

describe("GET /me/coupons cache", () => {
  it("answers a repeated query from Redis, body and Link header alike, until a change bumps the version", async () => {
    const userId = freshUserId();
    const coupons = [];
    for (let slot = 1; slot <= 3; slot++) coupons.push(await insertCoupon(h.prisma, policyId, userId, slot));
    const first = await myCoupons(h.app, userId, "?limit=2");
    expect(first.statusCode).toBe(200);
    expect(first.json()).toHaveLength(2);
    expect(first.headers.link).toMatch(/rel="next"/);

    // Changed behind the cache's back (no transition, no bump): the cached page is still served,
    // which shows the second read never reached PostgreSQL.
    const newest = coupons[2]!;
    await h.prisma.couponIssue.update({ where: { id: newest.id }, data: { status: "EXPIRED" } });
    const second = await myCoupons(h.app, userId, "?limit=2");
    expect(second.body).toBe(first.body);
    expect(second.headers.link).toBe(first.headers.link);
    expect(second.headers["content-type"]).toMatch(/^application\/json/);
    // Another query is another entry.
    expect(statusOf((await myCoupons(h.app, userId, "?limit=3")).json(), newest)).toBe("EXPIRED");

    // A transition on another of the user's coupons bumps the version: the page is read afresh.
    expect((await act(h.app, userId, coupons[1]!.printed, "reserve", { orderId: "o" })).statusCode).toBe(200);
    const third = (await myCoupons(h.app, userId, "?limit=2")).json();
    expect(statusOf(third, newest)).toBe("EXPIRED");
    expect(statusOf(third, coupons[1]!)).toBe("RESERVED");

    // The next page, through its cached Link, still pages correctly.
    const next = await myCoupons(h.app, userId, (first.headers.link as string).match(/<\/me\/coupons([^>]*)>/)![1]);
    expect(next.json().map((c: { couponNumber: string }) => c.couponNumber)).toEqual([coupons[0]!.printed]);
  });

  it("shows each change at once: GET, change, GET again", async () => {
    const userId = freshUserId();
    const c = await insertCoupon(h.prisma, policyId, userId);
    const other = await insertCoupon(h.prisma, policyId, userId, 2);
    const all = async () => (await myCoupons(h.app, userId)).json();
    const issuedOnly = async () => (await myCoupons(h.app, userId, "?status=ISSUED")).json();
    expect(statusOf(await all(), c)).toBe("ISSUED");
    expect(statusOf(await issuedOnly(), c)).toBe("ISSUED");

    const rid = (await act(h.app, userId, c.printed, "reserve", { orderId: "o1" })).json().reservationId;
    expect(statusOf(await all(), c)).toBe("RESERVED");
    expect(statusOf(await issuedOnly(), c)).toBeUndefined();

    expect((await act(h.app, userId, c.printed, "release", { reservationId: rid })).statusCode).toBe(200);
    expect(statusOf(await all(), c)).toBe("ISSUED");
    expect(statusOf(await issuedOnly(), c)).toBe("ISSUED");

    const rid2 = (await act(h.app, userId, c.printed, "reserve", { orderId: "o2" })).json().reservationId;
    expect(statusOf(await all(), c)).toBe("RESERVED");
    expect((await act(h.app, userId, c.printed, "use", { reservationId: rid2 })).statusCode).toBe(200);
    expect(statusOf(await all(), c)).toBe("USED");
    expect((await cancel(h.app, c.printed, "refund")).statusCode).toBe(200);
    expect(statusOf(await all(), c)).toBe("CANCELLED");
    // An admin's cancel bumps the coupon owner's version, not the admin's.
    expect((await cancel(h.app, other.printed, "revoke")).statusCode).toBe(200);
    expect(statusOf(await issuedOnly(), other)).toBeUndefined();

    // A refused change changes nothing and needs no bump; the list still agrees with PostgreSQL.
    expect((await act(h.app, userId, c.printed, "reserve", { orderId: "o3" })).statusCode).toBe(409);
    expect(statusOf(await all(), c)).toBe("CANCELLED");
  });

  it("concurrent reads during a run of changes never show a state older than the last answered change", async () => {
    const userId = freshUserId();
    const COUPONS = 12;
    const coupons: TestCoupon[] = [];
    for (let slot = 1; slot <= COUPONS; slot++) coupons.push(await insertCoupon(h.prisma, policyId, userId, slot));
    // Every change moves one coupon one step along ISSUED -> RESERVED -> USED -> CANCELLED, so the
    // sum of the steps in a list says how many changes it reflects.
    const STAGE: Record<string, number> = { ISSUED: 0, RESERVED: 1, USED: 2, CANCELLED: 3 };
    const progress = (list: { status: string }[]) => list.reduce((n, c) => n + (STAGE[c.status] ?? 0), 0);

    let answered = 0;
    let done = false;
    const violations: string[] = [];
    let reads = 0;
    const reader = async () => {
      while (!done) {
        const floor = answered;
        const list = (await myCoupons(h.app, userId)).json();
        reads++;
        const seen = progress(list);
        if (seen < floor) violations.push(`read sent after ${floor} answered changes saw ${seen}`);
      }
    };
    const writer = async () => {
      for (const c of coupons) {
        const rid = (await act(h.app, userId, c.printed, "reserve", { orderId: "o" })).json().reservationId;
        answered++;
        expect((await act(h.app, userId, c.printed, "use", { reservationId: rid })).statusCode).toBe(200);
        answered++;
        expect((await cancel(h.app, c.printed, "refund")).statusCode).toBe(200);
        answered++;
      }
      done = true;
    };
    await Promise.all([writer(), ...Array.from({ length: 12 }, reader)]);
    expect(answered).toBe(3 * COUPONS);
    expect(violations).toEqual([]);
    expect(reads).toBeGreaterThan(3 * COUPONS);
    expect(progress((await myCoupons(h.app, userId)).json())).toBe(3 * COUPONS);
  });
});
