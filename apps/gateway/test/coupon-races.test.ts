// Concurrent moves on one coupon, really concurrent: many requests in flight at once through the
// gateway, each on its own PostgreSQL connection. PostgreSQL's conditional UPDATE lets one win.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { act, cancel, directPolicy, insertCoupon, trail } from "../../../test/support/coupons.js";
import { startHarness, type Harness } from "../../../test/support/harness.js";
import { releaseStaleReservations } from "../../worker/src/processors/batch-jobs.js";

let h: Harness;
let policyId: string;
beforeAll(async () => {
  // A pool as large as the burst, so the requests meet in PostgreSQL, not in the pool's queue.
  h = await startHarness({ DB_POOL_SIZE: "16" });
  policyId = await directPolicy(h.app);
});
afterAll(async () => {
  await h?.close();
});

describe("races", () => {
  it("N concurrent reserves of one coupon: exactly one 200, the rest 409, one audit row and one event", async () => {
    for (let round = 0; round < 5; round++) {
      const c = await insertCoupon(h.prisma, policyId);
      const answers = await Promise.all(
        Array.from({ length: 24 }, (_, i) => act(h.app, c.userId, c.printed, "reserve", { orderId: `order-${i}` })),
      );
      const ok = answers.filter((r) => r.statusCode === 200);
      expect(ok).toHaveLength(1);
      for (const r of answers) if (r.statusCode !== 200) expect(r.json().code).toBe("INVALID_STATE");
      const winner = ok[0]!.json();
      const row = await h.prisma.couponIssue.findUniqueOrThrow({ where: { id: c.id } });
      expect(row).toMatchObject({ status: "RESERVED", orderId: winner.orderId, reservationId: winner.reservationId });
      const { audit, events } = await trail(h.prisma, c.id);
      expect(audit).toHaveLength(1);
      expect(audit[0]?.details).toMatchObject({ orderId: winner.orderId });
      expect(events).toHaveLength(1);
      expect(events[0]?.payload).toMatchObject({ reservationId: winner.reservationId });
    }
  });

  it("use racing release with the same reservationId: exactly one wins and the coupon ends as the winner left it", async () => {
    const wins = { use: 0, release: 0 };
    for (let round = 0; round < 20; round++) {
      const c = await insertCoupon(h.prisma, policyId);
      const r = await act(h.app, c.userId, c.printed, "reserve", { orderId: `race-${round}` });
      const reservationId = r.json().reservationId as string;
      // Alternate who is sent first, so neither always has the head start.
      const pair = round % 2 === 0 ? (["use", "release"] as const) : (["release", "use"] as const);
      const answers = await Promise.all(pair.map((a) => act(h.app, c.userId, c.printed, a, { reservationId })));
      const byAction = Object.fromEntries(pair.map((a, i) => [a, answers[i]!]));
      const won = pair.filter((a) => byAction[a]!.statusCode === 200);
      expect(won, `round ${round}`).toHaveLength(1);
      const winner = won[0]!;
      const loser = winner === "use" ? "release" : "use";
      expect(byAction[loser]!.statusCode).toBe(409);
      expect(byAction[loser]!.json().code).toBe("INVALID_STATE");
      wins[winner]++;

      const row = await h.prisma.couponIssue.findUniqueOrThrow({ where: { id: c.id } });
      if (winner === "use") expect(row).toMatchObject({ status: "USED", reservationId, orderId: `race-${round}` });
      else expect(row).toMatchObject({ status: "ISSUED", reservationId: null, orderId: null, reservedAt: null });
      expect(byAction[winner]!.json().status).toBe(row.status);
      const { audit, events } = await trail(h.prisma, c.id);
      expect(audit.map((a) => a.action)).toEqual(["RESERVED", winner === "use" ? "USED" : "RELEASED"]);
      expect(events.map((e) => e.eventType)).toEqual(["CouponReserved", winner === "use" ? "CouponUsed" : "CouponReleased"]);
    }
    expect(wins.use + wins.release).toBe(20);
  });

  it("an admin cancel racing a reserve of an ISSUED coupon: one wins, and the trail matches the final state", async () => {
    for (let round = 0; round < 10; round++) {
      const c = await insertCoupon(h.prisma, policyId);
      const [reserve, revoke] = await Promise.all([
        act(h.app, c.userId, c.printed, "reserve", { orderId: "o" }),
        cancel(h.app, c.printed, "race"),
      ]);
      expect([reserve.statusCode, revoke.statusCode].sort()).toEqual([200, 409]);
      const row = await h.prisma.couponIssue.findUniqueOrThrow({ where: { id: c.id } });
      expect(row.status).toBe(reserve.statusCode === 200 ? "RESERVED" : "CANCELLED");
      const { audit, events } = await trail(h.prisma, c.id);
      expect(audit).toHaveLength(1);
      expect(events).toHaveLength(1);
      expect(audit[0]?.action).toBe(row.status);
    }
  });

  it("a refund racing a second use of a USED coupon records the refund once, from USED", async () => {
    const c = await insertCoupon(h.prisma, policyId);
    const rid = (await act(h.app, c.userId, c.printed, "reserve", { orderId: "paid" })).json().reservationId as string;
    expect((await act(h.app, c.userId, c.printed, "use", { reservationId: rid })).statusCode).toBe(200);
    const answers = await Promise.all([
      ...Array.from({ length: 8 }, () => cancel(h.app, c.printed, "refund")),
      ...Array.from({ length: 8 }, () => act(h.app, c.userId, c.printed, "use", { reservationId: rid })),
    ]);
    expect(answers.filter((r) => r.statusCode === 200)).toHaveLength(1);
    const { audit } = await trail(h.prisma, c.id);
    expect(audit.map((a) => a.action)).toEqual(["RESERVED", "USED", "CANCELLED"]);
    expect(audit[2]?.details).toMatchObject({ from: "USED", kind: "REFUNDED", orderId: "paid" });
  });

  it("use racing the reservation timeout: exactly one wins, and the audit trail shows only the winner's move", async () => {
    // Reserved in 2001: a timeout that reaches back to 2002 touches these rows and no other file's.
    const timeoutMs = Date.now() - Date.parse("2002-01-01T00:00:00Z");
    const outcomes = { used: 0, released: 0 };
    for (let round = 0; round < 8; round++) {
      const c = await insertCoupon(h.prisma, policyId);
      const reserved = (await act(h.app, c.userId, c.printed, "reserve", { orderId: `timeout-${round}` })).json();
      await h.prisma.couponIssue.update({ where: { id: c.id }, data: { reservedAt: new Date("2001-01-01T00:00:00Z") } });
      const [use] = await Promise.all([
        act(h.app, c.userId, c.printed, "use", { reservationId: reserved.reservationId }),
        releaseStaleReservations({ prisma: h.prisma, redis: h.redis, keys: h.keys, batchSize: 100, concurrency: 1, timeoutMs }),
      ]);
      const row = await h.prisma.couponIssue.findUniqueOrThrow({ where: { id: c.id } });
      const actions = (await trail(h.prisma, c.id)).audit.map((a) => a.action);
      if (use.statusCode === 200) {
        outcomes.used++;
        expect(row.status).toBe("USED");
        expect(actions).toEqual(["RESERVED", "USED"]);
      } else {
        outcomes.released++;
        expect(use.json().code).toBe("INVALID_STATE");
        expect(row).toMatchObject({ status: "ISSUED", reservationId: null, orderId: null });
        expect(actions).toEqual(["RESERVED", "RELEASED"]);
      }
    }
    expect(outcomes.used + outcomes.released).toBe(8);
  });
});
