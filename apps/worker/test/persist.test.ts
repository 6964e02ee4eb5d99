// Persistence of admissions on the real PostgreSQL and Redis: idempotent retries, audit and
// outbox rows in the same transaction, the failures that give stock back.
import { createPrismaClient } from "@coupon/db/client";
import type { AdmissionRecord } from "@coupon/queue";
import { loadConfig } from "@coupon/config";
import { KeySpace, admitRequest, admittedCount, createRedisClient, deleteMatching, getPending, syncPolicyRules, withScripts } from "@coupon/redis";
import { createLogger, createRegistry, workerMetrics } from "@coupon/telemetry";
import type { Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testEnv } from "../../../test/support/env.js";
import { persistAdmissions } from "../src/persistence/issue-coupons.js";
import { persistAdmissionsProcessor } from "../src/processors/persist-admissions.js";

const env = testEnv();
const prisma = createPrismaClient(env.DATABASE_URL, { poolSize: 8 });
const redis = withScripts(createRedisClient(loadConfig(env)));
const keys = new KeySpace(env.REDIS_PREFIX);
const metrics = workerMetrics(createRegistry("worker"));
const processor = persistAdmissionsProcessor({ prisma, redis, keys, metrics, log: createLogger("test", "silent") });

afterAll(async () => {
  await deleteMatching(redis, `${env.REDIS_PREFIX}:*`);
  await prisma.$disconnect();
  await redis.quit();
});

async function policy(totalQuantity: number | null, perUserLimit = 1) {
  const p = await prisma.couponPolicy.create({
    data: {
      name: "t",
      issueType: "FCFS",
      totalQuantity: totalQuantity ?? 1_000_000,
      perUserLimit,
      validDays: 7,
      issueStartAt: new Date(Date.now() - 60_000),
      issueEndAt: new Date(Date.now() + 3_600_000),
      discountType: "FIXED",
      discountValue: 100,
    },
  });
  await syncPolicyRules(
    redis,
    keys,
    { id: p.id.toString(), issueType: "FCFS", status: "ACTIVE", issueStartAt: p.issueStartAt, issueEndAt: p.issueEndAt, totalQuantity: p.totalQuantity, perUserLimit, codeKey: null },
    "create",
  );
  return p.id.toString();
}

let seq = 0;
async function admit(policyId: string, userId: string): Promise<AdmissionRecord> {
  const requestId = `${policyId}-${(++seq).toString().padStart(24, "0")}`;
  const r = await admitRequest(redis, keys, { policyId, userId, requestId, way: "FCFS", clientIp: "127.0.0.9" });
  if (!r.ok) throw new Error(`not admitted: ${JSON.stringify(r)}`);
  return { requestId, policyId, userId, slot: r.slot, admittedAt: r.admittedAt, clientIp: "127.0.0.9" };
}

const job = (admissions: AdmissionRecord[]) => ({ id: "t", name: "persist", data: { admissions } }) as unknown as Job;

describe("persisting admissions", () => {
  let policyId: string;
  let batch: AdmissionRecord[];
  beforeAll(async () => {
    policyId = await policy(100);
    batch = [];
    for (let u = 1; u <= 50; u++) batch.push(await admit(policyId, String(u)));
  });

  it("writes coupons, request rows, audit rows and CouponIssued events, then forgets the pending admissions", async () => {
    expect(await processor(job(batch))).toEqual({ issued: 50, failed: 0 });
    const pid = BigInt(policyId);
    expect(await prisma.couponIssue.count({ where: { policyId: pid } })).toBe(50);
    expect(await prisma.issueRequest.count({ where: { policyId: pid, status: "ISSUED" } })).toBe(50);
    const couponIds = (await prisma.couponIssue.findMany({ where: { policyId: pid }, select: { id: true } })).map((c) => c.id);
    expect(await prisma.couponAudit.count({ where: { couponId: { in: couponIds }, action: "ISSUED", clientIp: "127.0.0.9" } })).toBe(50);
    const events = await prisma.outboxEvent.findMany({ where: { aggregateId: { in: couponIds } } });
    expect(events).toHaveLength(50);
    expect(events[0]?.eventType).toBe("CouponIssued");
    expect((await prisma.couponPolicy.findUniqueOrThrow({ where: { id: pid } })).issuedCount).toBe(50);
    expect(await redis.hlen(keys.policy(policyId).pending)).toBe(0);
  });

  it("is idempotent: a redelivered job, even run twice at once, writes nothing twice", async () => {
    const [a, b] = await Promise.all([processor(job(batch)), processor(job(batch))]);
    expect(a).toEqual({ issued: 50, failed: 0 });
    expect(b).toEqual({ issued: 50, failed: 0 });
    const pid = BigInt(policyId);
    expect(await prisma.couponIssue.count({ where: { policyId: pid } })).toBe(50);
    expect(await prisma.outboxEvent.count({ where: { payload: { path: ["policyId"], equals: policyId } } })).toBe(50);
    expect((await prisma.couponPolicy.findUniqueOrThrow({ where: { id: pid } })).issuedCount).toBe(50);
  });
});

describe("requests that can never succeed", () => {
  it("a user PostgreSQL already serves is FAILED ALREADY_ISSUED and their unit goes back", async () => {
    const policyId = await policy(5);
    const first = await admit(policyId, "9");
    await processor(job([first]));
    // Redis forgets the holder (as after a partial loss) and admits them again.
    await redis.hdel(keys.policy(policyId).counts, "9");
    const again = await admit(policyId, "9");
    expect(await admittedCount(redis, keys, policyId)).toBe(2);
    expect(await processor(job([again]))).toEqual({ issued: 0, failed: 1 });
    const row = await prisma.issueRequest.findUniqueOrThrow({ where: { id: again.requestId } });
    expect(row).toMatchObject({ status: "FAILED", reason: "ALREADY_ISSUED" });
    expect(await admittedCount(redis, keys, policyId)).toBe(1);
    expect(await getPending(redis, keys, policyId, again.requestId)).toBeNull();
    expect(await prisma.couponIssue.count({ where: { policyId: BigInt(policyId) } })).toBe(1);
  });

  it.each([
    ["the careful path", undefined],
    ["the fast path (the CHECK on issued_count sends it to the careful one)", { validDays: 7, validUntil: null }],
  ])("past totalQuantity in PostgreSQL the rest are FAILED SOLD_OUT, through %s", async (_path, validity) => {
    const policyId = await policy(3);
    const admitted = [await admit(policyId, "1"), await admit(policyId, "2"), await admit(policyId, "3")];
    // Two more admissions that Redis should never have made (a lost counter).
    await redis.set(keys.policy(policyId).admitted, "0");
    const extra = [await admit(policyId, "4"), await admit(policyId, "5")];
    const result = await persistAdmissions(prisma, policyId, [...extra, ...admitted], validity);
    expect(result.inserted).toBe(3);
    expect(result.outcomes.filter((o) => o.status === "FAILED").map((o) => o.status === "FAILED" && o.reason)).toEqual([
      "SOLD_OUT",
      "SOLD_OUT",
    ]);
    expect(await prisma.couponIssue.count({ where: { policyId: BigInt(policyId) } })).toBe(3);
    expect((await prisma.couponPolicy.findUniqueOrThrow({ where: { id: BigInt(policyId) } })).issuedCount).toBe(3);
  });

  it("an unknown policy's admissions are FAILED POLICY_NOT_FOUND", async () => {
    const ghost = "9000000000000000001";
    const a: AdmissionRecord = { requestId: `${ghost}-${"x".repeat(24)}`, policyId: ghost, userId: "1", slot: 1, admittedAt: Date.now(), clientIp: "" };
    const result = await persistAdmissions(prisma, ghost, [a], { validDays: 1, validUntil: null });
    expect(result).toEqual({ inserted: 0, outcomes: [expect.objectContaining({ status: "FAILED", reason: "POLICY_NOT_FOUND" })] });
  });

  it("a payload that is not a persist job fails for good", async () => {
    await expect(processor({ id: "x", name: "persist", data: { admissions: [{ requestId: 1 }] } } as unknown as Job)).rejects.toThrow(
      /not valid/,
    );
  });

  it("the PostgreSQL check refuses an oversell even if the code did not", async () => {
    const policyId = await policy(1);
    await expect(
      prisma.couponPolicy.update({ where: { id: BigInt(policyId) }, data: { issuedCount: 2 } }),
    ).rejects.toThrow();
  });
});
