// Hostile and clumsy input: every answer is a 4xx problem+json, never a 500, and nothing changes.
import { createSigner } from "fast-jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, policyBody, startHarness, type Harness } from "../../../test/support/harness.js";
import { JWT_SECRET } from "../../../test/support/env.js";
import { adminToken, bearer, userToken } from "../../../test/support/tokens.js";

let h: Harness;
let policyId: string;
beforeAll(async () => {
  h = await startHarness();
  policyId = (await createPolicy(h.app, { totalQuantity: 3 })).id;
});
afterAll(async () => {
  await h.close();
});

async function snapshot() {
  const k = h.keys.policy(policyId);
  return {
    coupons: await h.prisma.couponIssue.count({ where: { policyId: BigInt(policyId) } }),
    admitted: await h.redis.get(k.admitted),
    pending: await h.redis.hlen(k.pending),
  };
}

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; json: () => any }, status: number, code?: string) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers["content-type"])).toContain("application/problem+json");
  const body = res.json();
  expect(body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  if (code) expect(body.code).toBe(code);
  expect(JSON.stringify(body)).not.toMatch(/at .*\.(js|ts):\d+/);
}

describe("bodies", () => {
  it("malformed JSON is 400 BAD_JSON", async () => {
    const before = await snapshot();
    for (const payload of ['{"name": ', "not json", '{"code": "x"', "[1,2"]) {
      const res = await h.app.inject({
        method: "POST",
        url: "/admin/policies",
        headers: { ...bearer(adminToken()), "content-type": "application/json" },
        payload,
      });
      expectProblem(res, 400, "BAD_JSON");
    }
    const claim = await h.app.inject({
      method: "POST",
      url: "/coupons/claim",
      headers: { ...bearer(userToken(1)), "content-type": "application/json" },
      payload: "{oops",
    });
    expectProblem(claim, 400, "BAD_JSON");
    expect(await snapshot()).toEqual(before);
  });

  it("wrong types and missing fields are 400 VALIDATION naming the field", async () => {
    const before = await snapshot();
    const cases: [string, unknown][] = [
      ["/coupons/claim", { code: 123 }],
      ["/coupons/claim", {}],
      ["/coupons/claim", { code: ["a"] }],
      ["/coupons/claim", { code: "x".repeat(41) }],
      ["/coupons/claim", "just a string"],
      ["/coupons/claim", null],
    ];
    for (const [url, payload] of cases) {
      const res = await h.app.inject({
        method: "POST",
        url,
        headers: { ...bearer(userToken(1)), "content-type": "application/json" },
        payload: JSON.stringify(payload),
      });
      expect([400]).toContain(res.statusCode);
      expectProblem(res, 400);
    }
    const typed = await h.app.inject({
      method: "POST",
      url: "/admin/policies",
      headers: bearer(adminToken()),
      payload: { ...policyBody(), perUserLimit: "one" },
    });
    expectProblem(typed, 400, "VALIDATION");
    expect(typed.json().detail).toContain("perUserLimit");
    const overflow = await h.app.inject({
      method: "POST",
      url: "/admin/policies",
      headers: bearer(adminToken()),
      payload: { ...policyBody(), totalQuantity: 1e30 },
    });
    expectProblem(overflow, 400, "VALIDATION");
    expect(await snapshot()).toEqual(before);
  });

  it("a huge body is 413 and a foreign content type 415", async () => {
    const before = await snapshot();
    const huge = await h.app.inject({
      method: "POST",
      url: "/admin/policies",
      headers: { ...bearer(adminToken()), "content-type": "application/json" },
      payload: JSON.stringify({ ...policyBody(), name: "x".repeat(100_000) }),
    });
    expectProblem(huge, 413, "PAYLOAD_TOO_LARGE");
    const xml = await h.app.inject({
      method: "POST",
      url: "/coupons/claim",
      headers: { ...bearer(userToken(1)), "content-type": "application/xml" },
      payload: "<code>x</code>",
    });
    expectProblem(xml, 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(await snapshot()).toEqual(before);
  });
});

describe("ids", () => {
  it("overflowing and malformed ids are 400, unknown ones 404", async () => {
    const before = await snapshot();
    for (const id of ["99999999999999999999", "9223372036854775808", "0", "-5", "1e5", "abc", "%00"]) {
      const res = await h.app.inject({ method: "POST", url: `/policies/${id}/issue`, headers: bearer(userToken(1)) });
      expectProblem(res, 400, "VALIDATION");
    }
    const unknown = await h.app.inject({ method: "POST", url: "/policies/9223372036854775807/issue", headers: bearer(userToken(1)) });
    expectProblem(unknown, 404, "POLICY_NOT_FOUND");
    const longRequest = await h.app.inject({ url: `/issue-requests/${"1".repeat(500)}`, headers: bearer(userToken(1)) });
    expectProblem(longRequest, 414);
    expect(await snapshot()).toEqual(before);
  });
});

describe("tokens", () => {
  const now = Math.floor(Date.now() / 1000);
  const forged = createSigner({ key: "another-secret-another-secret-0123456789", algorithm: "HS256" })({ sub: "1" });
  const expired = createSigner({ key: JWT_SECRET, algorithm: "HS256" })({ sub: "1", exp: now - 60, iat: now - 120 });
  const badSub = createSigner({ key: JWT_SECRET, algorithm: "HS256" })({ sub: "99999999999999999999" });
  const noneAlg = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from('{"sub":"1","role":"admin"}').toString("base64url")}.`;
  const tampered = (() => {
    const [head, , sig] = userToken(1).split(".");
    return `${head}.${Buffer.from('{"sub":"1","role":"admin"}').toString("base64url")}.${sig}`;
  })();

  it.each([
    ["forged", `Bearer ${forged}`],
    ["expired", `Bearer ${expired}`],
    ["alg none", `Bearer ${noneAlg}`],
    ["tampered claims", `Bearer ${tampered}`],
    ["sub not a user id", `Bearer ${badSub}`],
    ["not bearer", `Basic ${Buffer.from("a:b").toString("base64")}`],
    ["garbage", "Bearer !!!"],
  ])("%s token is 401 and issues nothing", async (_name, authorization) => {
    const before = await snapshot();
    const res = await h.app.inject({ method: "POST", url: `/policies/${policyId}/issue`, headers: { authorization } });
    expectProblem(res, 401, "UNAUTHORIZED");
    const adminRes = await h.app.inject({ url: "/admin/policies", headers: { authorization } });
    expectProblem(adminRes, 401, "UNAUTHORIZED");
    expect(await snapshot()).toEqual(before);
  });

  it("a remembered token is refused once it expires", async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const soon = createSigner({ key: JWT_SECRET, algorithm: "HS256" })({ sub: "77", exp });
    // The second answer comes from the remembered token, not a fresh verification.
    for (let i = 0; i < 2; i++) expect((await h.app.inject({ url: "/me/coupons", headers: bearer(soon) })).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 + 100 - Date.now()));
    const res = await h.app.inject({ url: "/me/coupons", headers: bearer(soon) });
    expectProblem(res, 401, "UNAUTHORIZED");
    expect(res.json().detail).toMatch(/expired/i);
  });

  it("says when a token has expired", async () => {
    const res = await h.app.inject({ method: "POST", url: `/policies/${policyId}/issue`, headers: bearer(expired) });
    expect(res.json().detail).toMatch(/expired/i);
  });
});
