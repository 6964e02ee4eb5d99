// Per-user and per-address rate limits on the issue endpoints, kept in the real Redis: 429 with
// Retry-After, nothing admitted for a limited request, refill, atomicity under concurrency, off at 0.
import { takeRateLimit, withScripts } from "@coupon/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../../../../test/support/harness.js";
import { bearer, userToken } from "../../../../test/support/tokens.js";

let h: Harness;
// A slow refill (one request per 5 s) keeps the counts exact however slow the machine is.
const USER_BURST = 3;
const IP_BURST = 5;
beforeAll(async () => {
  h = await startHarness({
    RATE_LIMIT_USER_PER_SEC: "0.2",
    RATE_LIMIT_USER_BURST: String(USER_BURST),
    RATE_LIMIT_IP_PER_SEC: "0.2",
    RATE_LIMIT_IP_BURST: String(IP_BURST),
  });
});
afterAll(async () => {
  await h?.close();
});

const press = (policyId: string, userId: number, ip: string) =>
  h.app.inject({ method: "POST", url: `/policies/${policyId}/issue`, headers: bearer(userToken(userId)), remoteAddress: ip });

async function admittedOf(policyId: string): Promise<{ admitted: number; ofUser: (u: number) => Promise<number> }> {
  const k = h.keys.policy(policyId);
  return {
    admitted: Number((await h.redis.get(k.admitted)) ?? 0),
    ofUser: async (u) => Number((await h.redis.hget(k.counts, String(u))) ?? 0),
  };
}

describe("the per-user limit", () => {
  it("answers 429 with Retry-After past the burst, admits nothing for it, and lets the user in again after the wait", async () => {
    // Each user may hold many coupons, so every press up to the limit is a real admission.
    const p = await createPolicy(h.app, { totalQuantity: 100, perUserLimit: 50 });
    for (let i = 0; i < USER_BURST; i++) expect((await press(p.id, 1001, `10.1.0.${i}`)).statusCode).toBe(202);
    const limited = await press(p.id, 1001, "10.1.0.9");
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(limited.json()).toMatchObject({ status: 429, code: "RATE_LIMITED" });
    const retryAfter = Number(limited.headers["retry-after"]);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(5);
    const state = await admittedOf(p.id);
    expect(state.admitted).toBe(USER_BURST);
    expect(await state.ofUser(1001)).toBe(USER_BURST);
    expect(await h.redis.hlen(h.keys.policy(p.id).pending)).toBe(USER_BURST);

    // Another user is not affected.
    expect((await press(p.id, 1002, "10.1.0.20")).statusCode).toBe(202);

    // Refill: one request per 5 s comes back.
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 50));
    expect((await press(p.id, 1001, "10.1.0.21")).statusCode).toBe(202);
    expect((await press(p.id, 1001, "10.1.0.22")).statusCode).toBe(429);
    expect(await (await admittedOf(p.id)).ofUser(1001)).toBe(USER_BURST + 1);
  });

  it("lets exactly the burst through when one user sends many requests at once", async () => {
    const p = await createPolicy(h.app, { totalQuantity: 100, perUserLimit: 50 });
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => press(p.id, 2001, `10.2.${i}.1`)));
    const statuses = answers.map((a) => a.statusCode);
    expect(statuses.filter((s) => s === 202)).toHaveLength(USER_BURST);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40 - USER_BURST);
    expect((await admittedOf(p.id)).admitted).toBe(USER_BURST);
  });

  it("is atomic in Redis: 60 concurrent takes on three connections, exactly the burst allowed", async () => {
    const key = h.keys.user("3001").rate;
    const clients = [h.redis, h.redis.duplicate(), h.redis.duplicate()];
    try {
      const scripted = clients.map((c) => withScripts(c));
      // One hour per token: nothing refills while the test runs.
      const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => takeRateLimit(scripted[i % 3]!, key, 3_600_000_000, 7)));
      expect(answers.filter((a) => a.allowed)).toHaveLength(7);
      const refused = answers.filter((a) => !a.allowed);
      expect(refused.every((a) => !a.allowed && a.retryAfterMs > 3_000_000)).toBe(true);
    } finally {
      await Promise.all(clients.slice(1).map((c) => c.quit()));
    }
  });
});

describe("the per-address limit", () => {
  it("counts every user behind one address, independently of the per-user limit", async () => {
    const p = await createPolicy(h.app, { totalQuantity: 100 });
    const ip = "192.0.2.7";
    for (let u = 0; u < IP_BURST; u++) expect((await press(p.id, 4000 + u, ip)).statusCode).toBe(202);
    const limited = await press(p.id, 4100, ip);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    // The same user from another address is fine: it was the address that was limited.
    expect((await press(p.id, 4100, "192.0.2.8")).statusCode).toBe(202);
    expect((await admittedOf(p.id)).admitted).toBe(IP_BURST + 1);
  });

  it("limits guessing codes too, before any lookup", async () => {
    const ip = "192.0.2.50";
    const guess = (n: number) =>
      h.app.inject({ method: "POST", url: "/coupons/claim", headers: bearer(userToken(5000 + n)), payload: { code: `nope-${n}` }, remoteAddress: ip });
    for (let n = 0; n < IP_BURST; n++) expect((await guess(n)).json().code).toBe("CODE_NOT_FOUND");
    const limited = await guess(99);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe("RATE_LIMITED");
  });
});

describe("limits set to 0", () => {
  it("are off", async () => {
    const off = await startHarness({ RATE_LIMIT_USER_PER_SEC: "0", RATE_LIMIT_IP_PER_SEC: "0" });
    try {
      const p = await createPolicy(off.app, { totalQuantity: 100, perUserLimit: 50 });
      const answers = await Promise.all(
        Array.from({ length: 30 }, () =>
          off.app.inject({ method: "POST", url: `/policies/${p.id}/issue`, headers: bearer(userToken(6001)), remoteAddress: "198.51.100.1" }),
        ),
      );
      expect(answers.map((a) => a.statusCode)).toEqual(Array(30).fill(202));
      expect(await off.redis.exists(off.keys.user("6001").rate, off.keys.ip("198.51.100.1").rate)).toBe(0);
    } finally {
      await off.close();
    }
  });
});

describe("TRUST_PROXY", () => {
  it("takes the client address from X-Forwarded-For only from a trusted proxy", async () => {
    const behind = await startHarness({ TRUST_PROXY: "127.0.0.1", RATE_LIMIT_IP_PER_SEC: "0.2", RATE_LIMIT_IP_BURST: "2" });
    try {
      const p = await createPolicy(behind.app, { totalQuantity: 100 });
      const via = (userId: number, remoteAddress: string, forwardedFor: string) =>
        behind.app.inject({
          method: "POST",
          url: `/policies/${p.id}/issue`,
          headers: { ...bearer(userToken(userId)), "x-forwarded-for": forwardedFor },
          remoteAddress,
        });
      // Through the trusted proxy: each forwarded address has its own bucket.
      expect((await via(1, "127.0.0.1", "203.0.113.1")).statusCode).toBe(202);
      expect((await via(2, "127.0.0.1", "203.0.113.1")).statusCode).toBe(202);
      expect((await via(3, "127.0.0.1", "203.0.113.1")).statusCode).toBe(429);
      expect((await via(4, "127.0.0.1", "203.0.113.2")).statusCode).toBe(202);
      // From anyone else the header is ignored: a client cannot pick its own bucket.
      expect((await via(5, "198.51.100.9", "203.0.113.3")).statusCode).toBe(202);
      expect((await via(6, "198.51.100.9", "203.0.113.4")).statusCode).toBe(202);
      expect((await via(7, "198.51.100.9", "203.0.113.5")).statusCode).toBe(429);
    } finally {
      await behind.close();
    }
  });
});
