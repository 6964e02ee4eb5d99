// The careful path reports whether it got its policy row lock: the design's lock failure rate.
import { createPrismaClient } from "@coupon/db/client";
import type { AdmissionRecord } from "@coupon/queue";
import { afterAll, describe, expect, it } from "vitest";
import { testEnv } from "../../../test/support/env.js";
import { freePort } from "../../../test/support/processes.js";
import { persistAdmissions } from "../src/persistence/issue-coupons.js";

const env = testEnv();
const prisma = createPrismaClient(env.DATABASE_URL, { poolSize: 2 });
afterAll(() => prisma.$disconnect());

const ghost = "9000000000000000077";
const admission: AdmissionRecord = { requestId: `${ghost}-${"l".repeat(24)}`, policyId: ghost, userId: "1", slot: 1, admittedAt: Date.now(), clientIp: "" };

describe("policy row lock outcomes", () => {
  it("a careful run that locked reports acquired once", async () => {
    const seen: string[] = [];
    await persistAdmissions(prisma, ghost, [admission], undefined, (o) => seen.push(o));
    expect(seen).toEqual(["acquired"]);
  });

  it("a careful run that waits past the lock timeout reports failed and throws, leaving nothing behind", async () => {
    const policy = await prisma.couponPolicy.create({
      data: {
        name: "lock timeout",
        issueType: "FCFS",
        totalQuantity: 10,
        validDays: 30,
        issueStartAt: new Date(Date.now() - 60_000),
        issueEndAt: new Date(Date.now() + 3_600_000),
        discountType: "FIXED",
        discountValue: 100,
      },
    });
    const policyId = policy.id.toString();
    const waiting: AdmissionRecord = { ...admission, policyId, requestId: `${policyId}-${"t".repeat(24)}` };
    const seen: string[] = [];
    // Another session holds the policy row for longer than the timeout given to the careful run.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked = () => {};
    const hasLock = new Promise<void>((resolve) => (locked = resolve));
    const holder = prisma.$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT id FROM coupon_policies WHERE id = ${policy.id} FOR UPDATE`;
        locked();
        await held;
      },
      { timeout: 20_000 },
    );
    try {
      await hasLock;
      const started = Date.now();
      await expect(persistAdmissions(prisma, policyId, [waiting], undefined, (o) => seen.push(o), 300)).rejects.toThrow(/lock/i);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(seen).toEqual(["failed"]);
    } finally {
      release();
      await holder;
    }
    expect(await prisma.couponIssue.count({ where: { policyId: policy.id } })).toBe(0);
    expect(await prisma.issueRequest.count({ where: { policyId: policy.id } })).toBe(0);
  });

  it("a careful run that never got a connection reports failed and still throws", async () => {
    const url = new URL(env.DATABASE_URL);
    url.port = String(await freePort());
    const unreachable = createPrismaClient(url.toString(), { poolSize: 1 });
    const seen: string[] = [];
    try {
      await expect(persistAdmissions(unreachable, ghost, [admission], undefined, (o) => seen.push(o))).rejects.toThrow();
      expect(seen).toEqual(["failed"]);
    } finally {
      await unreachable.$disconnect();
    }
  });
});
