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
