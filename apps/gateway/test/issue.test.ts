// The issue endpoints end to end: gateway in-process, a real worker process, real Redis and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../../../test/support/harness.js";
import { startWorker, type Proc } from "../../../test/support/processes.js";
import { adminToken, bearer, userToken } from "../../../test/support/tokens.js";
import { waitFor } from "../../../test/support/wait.js";

let h: Harness;
let worker: Proc;
beforeAll(async () => {
  // A long refusal memory: the holder test below must be answered from it.
  h = await startHarness({ SOLD_OUT_CACHE_MS: "60000" });
  worker = await startWorker(h.env);
});
afterAll(async () => {
  await worker?.kill("SIGTERM");
  await h?.close();
});

const issue = (policyId: string, userId: number | string) =>
  h.app.inject({ method: "POST", url: `/policies/${policyId}/issue`, headers: bearer(userToken(userId)) });
const poll = (requestId: string, userId: number | string) =>
  h.app.inject({ url: `/issue-requests/${requestId}`, headers: bearer(userToken(userId)) });
const settled = (requestId: string, userId: number | string) =>
  waitFor(`request ${requestId}`, async () => {
    const r = (await poll(requestId, userId)).json();
    return r.status === "PENDING" ? null : r;
  });

describe("POST /policies/:id/issue", () => {
  it("answers 202 PENDING, then the request turns ISSUED with a valid coupon", async () => {
    const p = await createPolicy(h.app, { totalQuantity: 5 });
    const res = await issue(p.id, 101);
    expect(res.statusCode).toBe(202);
    const { requestId, status } = res.json();
    expect(status).toBe("PENDING");
    const done = await settled(requestId, 101);
    expect(done.status).toBe("ISSUED");
    expect(done.coupon.couponNumber).toMatch(/^[2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6}$/);
    expect(done.coupon).toMatchObject({ policyId: p.id, status: "ISSUED" });

    const coupons = (await h.app.inject({ url: "/me/coupons", headers: bearer(userToken(101)) })).json();
    expect(coupons.map((c: { couponNumber: string }) => c.couponNumber)).toContain(done.coupon.couponNumber);
    const audit = await h.prisma.couponAudit.count({ where: { userId: 101n, action: "ISSUED" } });
    const events = await h.prisma.outboxEvent.count({ where: { eventType: "CouponIssued" } });
    expect(audit).toBeGreaterThanOrEqual(1);
    expect(events).toBeGreaterThanOrEqual(1);
  });

  it("answers a second press 409 ALREADY_ISSUED with the first requestId", async () => {
    const p = await createPolicy(h.app);
    const first = (await issue(p.id, 202)).json();
    const second = await issue(p.id, 202);
    expect(second.statusCode).toBe(409);
    expect(second.json()).toMatchObject({ code: "ALREADY_ISSUED", requestId: first.requestId });
  });

  it("answers 410 SOLD_OUT once the stock is gone", async () => {
    const p = await createPolicy(h.app, { totalQuantity: 2 });
    expect((await issue(p.id, 1)).statusCode).toBe(202);
    expect((await issue(p.id, 2)).statusCode).toBe(202);
    const res = await issue(p.id, 3);
    expect(res.statusCode).toBe(410);
    expect(res.json().code).toBe("SOLD_OUT");
  });

  it("answers 403 NOT_OPEN for a paused policy and outside the window", async () => {
    const paused = await createPolicy(h.app, { status: "PAUSED" });
    expect((await issue(paused.id, 1)).json().code).toBe("NOT_OPEN");
    const future = await createPolicy(h.app, {
      issueStartAt: new Date(Date.now() + 3_600_000).toISOString(),
      issueEndAt: new Date(Date.now() + 7_200_000).toISOString(),
    });
    const res = await issue(future.id, 1);
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe("NOT_OPEN");
  });

  it("answers 404 for an unknown policy and 409 WRONG_ISSUE_TYPE for a CODE one", async () => {
    const missing = await issue("987654321987", 1);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe("POLICY_NOT_FOUND");
    const coded = await createPolicy(h.app, { issueType: "CODE", code: `W${Date.now()}`, totalQuantity: null });
    const res = await issue(coded.id, 1);
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe("WRONG_ISSUE_TYPE");
  });

  it("rebuilds a policy Redis lost from PostgreSQL, without a second coupon for a holder", async () => {
    const p = await createPolicy(h.app, { totalQuantity: 2 });
    const first = (await issue(p.id, 501)).json();
    expect((await settled(first.requestId, 501)).status).toBe("ISSUED");
    const k = h.keys.policy(p.id);
    await h.redis.del(k.meta, k.admitted, k.counts, k.first);
    const again = await issue(p.id, 501);
    expect(again.statusCode).toBe(409);
    expect(again.json().requestId).toBe(first.requestId);
    expect((await issue(p.id, 502)).statusCode).toBe(202);
    expect((await issue(p.id, 503)).statusCode).toBe(410);
  });
});

describe("refusals answered from memory", () => {
  it("are the same answers Redis gives: status, content type and problem body", async () => {
    const p = await createPolicy(h.app, { totalQuantity: 1 });
    const first = (await issue(p.id, 801)).json();
    const holderFromRedis = await issue(p.id, 801);
    const holderFromMemory = await issue(p.id, 801);
    const soldOutFromRedis = await issue(p.id, 802);
    const soldOutFromMemory = await issue(p.id, 803);
    const soldOut = { type: "/problems/sold-out", title: "Sold out", status: 410, detail: "No coupons are left", code: "SOLD_OUT" };
    for (const res of [soldOutFromRedis, soldOutFromMemory]) {
      expect(res.statusCode).toBe(410);
      expect(res.headers["content-type"]).toBe("application/problem+json; charset=utf-8");
      expect(res.json()).toEqual(soldOut);
    }
    const holder = { type: "/problems/already-issued", status: 409, code: "ALREADY_ISSUED", requestId: first.requestId };
    for (const res of [holderFromRedis, holderFromMemory]) {
      expect(res.statusCode).toBe(409);
      expect(res.headers["content-type"]).toBe("application/problem+json; charset=utf-8");
      expect(res.json()).toMatchObject(holder);
    }
    expect(holderFromMemory.json()).toEqual(holderFromRedis.json());
  });

  // The sold-out memory (no Redis command at all, and Redis again once stock comes back) is
  // counted on a Redis of its own in protection/sold-out-shortcut.test.ts.
  it("a holder's second press is answered from memory with the first requestId", async () => {
    const p = await createPolicy(h.app, { totalQuantity: 5 });
    const first = (await issue(p.id, 701)).json();
    expect((await issue(p.id, 701)).json()).toMatchObject({ code: "ALREADY_ISSUED", requestId: first.requestId });
    await h.redis.hdel(h.keys.policy(p.id).counts, "701");
    expect((await issue(p.id, 701)).json()).toMatchObject({ code: "ALREADY_ISSUED", requestId: first.requestId });
  });
});

describe("POST /coupons/claim", () => {
  it("issues by code, whatever its case; 404 CODE_NOT_FOUND for an unknown code", async () => {
    const code = `Promo${Date.now()}`;
    await createPolicy(h.app, { issueType: "CODE", code, totalQuantity: null });
    const res = await h.app.inject({
      method: "POST",
      url: "/coupons/claim",
      headers: bearer(userToken(77)),
      payload: { code: code.toLowerCase() },
    });
    expect(res.statusCode).toBe(202);
    expect((await settled(res.json().requestId, 77)).status).toBe("ISSUED");
    const unknown = await h.app.inject({
      method: "POST",
      url: "/coupons/claim",
      headers: bearer(userToken(77)),
      payload: { code: "no-such-code" },
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe("CODE_NOT_FOUND");
  });
});

describe("GET /issue-requests/:requestId and /me/coupons", () => {
  it("show a user only their own requests and coupons (404, never 403)", async () => {
    const p = await createPolicy(h.app);
    const { requestId } = (await issue(p.id, 301)).json();
    await settled(requestId, 301);
    const other = await poll(requestId, 302);
    expect(other.statusCode).toBe(404);
    expect((await poll("1-doesnotexistdoesnotexist", 301)).statusCode).toBe(404);
    expect((await poll("garbage", 301)).statusCode).toBe(404);
    const mine = (await h.app.inject({ url: "/me/coupons", headers: bearer(userToken(302)) })).json();
    expect(mine).toEqual([]);
  });

  it("filter by status and page with a Link header", async () => {
    const policies = [await createPolicy(h.app), await createPolicy(h.app), await createPolicy(h.app)];
    for (const p of policies) await settled((await issue(p.id, 401)).json().requestId, 401);
    const page = await h.app.inject({ url: "/me/coupons?status=ISSUED&limit=2", headers: bearer(userToken(401)) });
    expect(page.json()).toHaveLength(2);
    expect(page.headers.link).toMatch(/rel="next"/);
    const none = await h.app.inject({ url: "/me/coupons?status=USED", headers: bearer(userToken(401)) });
    expect(none.json()).toEqual([]);
    const bad = await h.app.inject({ url: "/me/coupons?status=NOPE", headers: bearer(userToken(401)) });
    expect(bad.statusCode).toBe(400);
  });
});

describe("operations", () => {
  it("serves health, metrics and the OpenAPI document", async () => {
    expect((await h.app.inject({ url: "/health/live" })).statusCode).toBe(200);
    expect((await h.app.inject({ url: "/health/ready" })).json().status).toBe("ok");
    const metrics = await h.app.inject({ url: "/metrics" });
    expect(metrics.body).toContain("coupon_issue_requests_total");
    const doc = (await h.app.inject({ url: "/docs/json" })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/policies/{id}/issue", "/admin/policies", "/coupons/claim"]));
    expect((await h.app.inject({ url: "/nope", headers: bearer(adminToken()) })).json().code).toBe("NOT_FOUND");
  });
});
