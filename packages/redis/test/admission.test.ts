// The admission script against the real Redis: every answer, and exactness under a stampede.
import { randomBytes } from "node:crypto";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  KeySpace,
  admitRequest,
  admittedCount,
  completeAdmissions,
  createRedisClient,
  getPending,
  rebuildPolicyState,
  releaseAdmission,
  stalePending,
  syncPolicyRules,
  withScripts,
  type PolicyRules,
} from "../src/index.js";

const redis = withScripts(createRedisClient(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"));
const keys = new KeySpace(`t-${randomBytes(5).toString("hex")}`);
let nextPolicy = 1;
let policy: PolicyRules;

function rules(over: Partial<PolicyRules> = {}): PolicyRules {
  return {
    id: String(nextPolicy++),
    issueType: "FCFS",
    status: "ACTIVE",
    issueStartAt: new Date(Date.now() - 60_000),
    issueEndAt: new Date(Date.now() + 60_000),
    totalQuantity: 3,
    perUserLimit: 1,
    codeKey: null,
    ...over,
  };
}

let n = 0;
const admit = (userId: string, p = policy, way: "FCFS" | "CODE" = "FCFS") =>
  admitRequest(redis, keys, { policyId: p.id, userId, requestId: `${p.id}-req${++n}`, way, clientIp: "10.0.0.1" });

beforeEach(async () => {
  policy = rules();
  await syncPolicyRules(redis, keys, policy, "create");
});

afterAll(async () => {
  const found = await redis.keys(`${keys.prefix}:*`);
  if (found.length) await redis.del(...found);
  await redis.quit();
});

describe("admitRequest", () => {
  it("admits, records the admission as pending, and takes one unit of stock", async () => {
    const r = await admit("7");
    expect(r).toMatchObject({ ok: true, slot: 1 });
    expect(await admittedCount(redis, keys, policy.id)).toBe(1);
    const pending = await getPending(redis, keys, policy.id, `${policy.id}-req${n}`);
    expect(pending).toMatchObject({ userId: "7", slot: 1, clientIp: "10.0.0.1" });
  });

  it("answers a duplicate with the user's first request id", async () => {
    const first = await admit("7");
    expect(first.ok).toBe(true);
    const firstId = `${policy.id}-req${n}`;
    expect(await admit("7")).toEqual({ ok: false, code: "ALREADY_ISSUED", firstRequestId: firstId });
    expect(await admittedCount(redis, keys, policy.id)).toBe(1);
  });

  it("sells out at totalQuantity", async () => {
    for (const u of ["1", "2", "3"]) expect((await admit(u)).ok).toBe(true);
    expect(await admit("4")).toEqual({ ok: false, code: "SOLD_OUT" });
  });

  it("refuses unknown policies, the wrong way in, paused policies and closed windows", async () => {
    expect(await admit("1", rules())).toEqual({ ok: false, code: "POLICY_UNKNOWN" });
    expect(await admit("1", policy, "CODE")).toEqual({ ok: false, code: "WRONG_ISSUE_TYPE" });
    await syncPolicyRules(redis, keys, { ...policy, status: "PAUSED" }, "update");
    expect(await admit("1")).toEqual({ ok: false, code: "NOT_OPEN" });
    const later = rules({ issueStartAt: new Date(Date.now() + 60_000), issueEndAt: new Date(Date.now() + 120_000) });
    await syncPolicyRules(redis, keys, later, "create");
    expect(await admit("1", later)).toEqual({ ok: false, code: "NOT_OPEN" });
    const over = rules({ issueStartAt: new Date(Date.now() - 120_000), issueEndAt: new Date(Date.now() - 60_000) });
    await syncPolicyRules(redis, keys, over, "create");
    expect(await admit("1", over)).toEqual({ ok: false, code: "NOT_OPEN" });
  });

  it("gives a user up to perUserLimit slots, numbered", async () => {
    const p = rules({ perUserLimit: 2, totalQuantity: null });
    await syncPolicyRules(redis, keys, p, "create");
    expect(await admit("9", p)).toMatchObject({ ok: true, slot: 1 });
    expect(await admit("9", p)).toMatchObject({ ok: true, slot: 2 });
    expect(await admit("9", p)).toMatchObject({ ok: false, code: "ALREADY_ISSUED" });
  });

  it("holds exactly totalQuantity and one per user under 3,000 concurrent requests", async () => {
    const p = rules({ totalQuantity: 100 });
    await syncPolicyRules(redis, keys, p, "create");
    const users = Array.from({ length: 2000 }, (_, i) => String(i + 1));
    const presses = [...users, ...users.slice(0, 1000)].sort(() => Math.random() - 0.5);
    const results = await Promise.all(presses.map((u) => admit(u, p).then((r) => ({ u, r }))));
    const winners = results.filter((x) => x.r.ok).map((x) => x.u);
    expect(winners).toHaveLength(100);
    expect(new Set(winners).size).toBe(100);
    expect(await admittedCount(redis, keys, p.id)).toBe(100);
    expect(await redis.hlen(keys.policy(p.id).pending)).toBe(100);
  });
});

describe("settling admissions", () => {
  it("release gives back the stock and the user's place, once", async () => {
    for (const u of ["1", "2", "3"]) await admit(u);
    const requestId = `${policy.id}-req${n}`;
    const a = { policyId: policy.id, requestId, userId: "3" };
    expect(await releaseAdmission(redis, keys, a, true)).toBe(true);
    expect(await releaseAdmission(redis, keys, a, true)).toBe(false);
    expect(await admittedCount(redis, keys, policy.id)).toBe(2);
    expect((await admit("3")).ok).toBe(true);
  });

  it("release can keep the stock taken (PostgreSQL said sold out)", async () => {
    await admit("1");
    await releaseAdmission(redis, keys, { policyId: policy.id, requestId: `${policy.id}-req${n}`, userId: "1" }, false);
    expect(await admittedCount(redis, keys, policy.id)).toBe(1);
  });

  it("complete forgets recorded admissions; stale ones are listed until then", async () => {
    await admit("1");
    await admit("2");
    const ids = [`${policy.id}-req${n - 1}`, `${policy.id}-req${n}`];
    expect((await stalePending(redis, keys, policy.id, Date.now() + 1000, 10)).map((p) => p.requestId)).toEqual(ids);
    expect(await completeAdmissions(redis, keys, policy.id, ids)).toBe(2);
    expect(await stalePending(redis, keys, policy.id, Date.now() + 1000, 10)).toEqual([]);
    expect(await admittedCount(redis, keys, policy.id)).toBe(2);
  });
});

describe("policy state", () => {
  it("an update does not resurrect a policy Redis lost; a rebuild restores its counts", async () => {
    await admit("1");
    const k = keys.policy(policy.id);
    await redis.del(k.meta, k.admitted, k.counts, k.first, k.pending, k.pendingAt);
    expect(await syncPolicyRules(redis, keys, policy, "update")).toBe(false);
    const rebuilt = await rebuildPolicyState(redis, keys, policy, {
      issued: 2,
      holders: [
        { userId: "1", count: 1, firstRequestId: "r1" },
        { userId: "2", count: 1, firstRequestId: null },
      ],
    });
    expect(rebuilt).toBe(true);
    expect(await admit("1")).toEqual({ ok: false, code: "ALREADY_ISSUED", firstRequestId: "r1" });
    expect((await admit("5")).ok).toBe(true);
    expect(await admit("6")).toEqual({ ok: false, code: "SOLD_OUT" });
  });

  it("a rebuild never overwrites live state", async () => {
    await admit("1");
    expect(await rebuildPolicyState(redis, keys, policy, { issued: 0, holders: [] })).toBe(false);
    expect(await admittedCount(redis, keys, policy.id)).toBe(1);
    expect((await redis.keys(`${keys.policy(policy.id).meta.replace(":meta", "")}:staging*`)).length).toBe(0);
  });
});
