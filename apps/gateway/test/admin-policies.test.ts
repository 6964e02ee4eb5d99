// Admin policy endpoints through inject(), on the real Redis and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, policyBody, startHarness, type Harness } from "../../../test/support/harness.js";
import { adminToken, bearer, userToken } from "../../../test/support/tokens.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const admin = bearer(adminToken());

describe("POST /admin/policies", () => {
  it("creates a FCFS policy and makes it available to Redis at once", async () => {
    const res = await h.app.inject({ method: "POST", url: "/admin/policies", headers: admin, payload: policyBody({ totalQuantity: 5 }) });
    expect(res.statusCode).toBe(201);
    const p = res.json();
    expect(p).toMatchObject({ issueType: "FCFS", totalQuantity: 5, issuedCount: 0, remainingQuantity: 5, status: "ACTIVE" });
    expect(p.discount).toEqual({ type: "FIXED", value: 1000 });
    expect(typeof p.id).toBe("string");
    expect(res.headers.location).toBe(`/admin/policies/${p.id}`);
    expect(await h.redis.hget(h.keys.policy(p.id).meta, "total")).toBe("5");
    expect(await h.redis.get(h.keys.policy(p.id).admitted)).toBe("0");
  });

  it("refuses cross-field mistakes with 400 VALIDATION and writes nothing", async () => {
    const name = `invalid-${Date.now()}`;
    const base = { ...policyBody(), name };
    for (const body of [
      { ...base, totalQuantity: undefined },
      { ...policyBody({ issueType: "CODE" }), name },
      { ...base, issueEndAt: new Date(Date.now() - 120_000).toISOString() },
      { ...base, discount: { type: "PERCENT", value: 150 } },
      { ...base, validDays: undefined },
      { ...base, surprise: 1 },
      { ...base, totalQuantity: "10" },
      { ...base, issueStartAt: "yesterday" },
    ]) {
      const res = await h.app.inject({ method: "POST", url: "/admin/policies", headers: admin, payload: body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.json().code).toBe("VALIDATION");
    }
    expect(await h.prisma.couponPolicy.count({ where: { name } })).toBe(0);
  });

  it("keeps codes unique without regard to case (409 CODE_TAKEN)", async () => {
    const code = `Summer${Date.now()}`;
    await createPolicy(h.app, { issueType: "CODE", code, totalQuantity: null });
    const res = await h.app.inject({
      method: "POST",
      url: "/admin/policies",
      headers: admin,
      payload: policyBody({ issueType: "CODE", code: code.toUpperCase(), totalQuantity: null }),
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe("CODE_TAKEN");
  });

  it("needs a token (401) and an admin one (403)", async () => {
    const none = await h.app.inject({ method: "POST", url: "/admin/policies", payload: policyBody() });
    expect(none.statusCode).toBe(401);
    expect(none.headers["www-authenticate"]).toContain("Bearer");
    const user = await h.app.inject({ method: "POST", url: "/admin/policies", headers: bearer(userToken(5)), payload: policyBody() });
    expect(user.statusCode).toBe(403);
    expect(user.json().code).toBe("FORBIDDEN");
  });
});

describe("GET and PATCH /admin/policies", () => {
  it("reads one policy, 404 for an unknown one, 400 for a malformed id", async () => {
    const p = await createPolicy(h.app);
    const res = await h.app.inject({ url: `/admin/policies/${p.id}`, headers: admin });
    expect(res.statusCode).toBe(200);
    expect(res.json().id).toBe(p.id);
    const missing = await h.app.inject({ url: "/admin/policies/9223372036854775807", headers: admin });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe("POLICY_NOT_FOUND");
    for (const bad of ["abc", "0", "-1", "99999999999999999999", "1.5"]) {
      const r = await h.app.inject({ url: `/admin/policies/${bad}`, headers: admin });
      expect(r.statusCode, bad).toBe(400);
    }
  });

  it("lists in pages with a Link to the next page", async () => {
    for (let i = 0; i < 3; i++) await createPolicy(h.app);
    const first = await h.app.inject({ url: "/admin/policies?limit=2", headers: admin });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toHaveLength(2);
    const link = first.headers.link as string;
    expect(link).toMatch(/^<\/admin\/policies\?limit=2&after=\d+>; rel="next"$/);
    const next = await h.app.inject({ url: link.slice(1, link.indexOf(">")), headers: admin });
    expect(next.statusCode).toBe(200);
    expect(BigInt(next.json()[0].id)).toBeGreaterThan(BigInt(first.json()[1].id));
    const tooBig = await h.app.inject({ url: "/admin/policies?limit=1001", headers: admin });
    expect(tooBig.statusCode).toBe(400);
  });

  it("pauses, resumes and ends; an ended policy stays ended (409)", async () => {
    const p = await createPolicy(h.app);
    const patch = (status: string) =>
      h.app.inject({ method: "PATCH", url: `/admin/policies/${p.id}`, headers: admin, payload: { status } });
    expect((await patch("PAUSED")).json().status).toBe("PAUSED");
    expect(await h.redis.hget(h.keys.policy(p.id).meta, "status")).toBe("PAUSED");
    expect((await patch("ACTIVE")).json().status).toBe("ACTIVE");
    expect((await patch("ENDED")).json().status).toBe("ENDED");
    const again = await patch("ACTIVE");
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe("INVALID_STATE");
    expect((await patch("BOGUS")).statusCode).toBe(400);
  });
});
