// Several workers on one DIRECT batch at once (a stalled job taken over while its first worker still
// runs): SKIP LOCKED hands each chunk to exactly one of them, and nobody gets two coupons.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../../../test/support/harness.js";
import { adminToken, bearer } from "../../../test/support/tokens.js";
import { issueDirectChunk } from "../src/persistence/issue-direct-chunk.js";

let h: Harness;
beforeAll(async () => {
  // Small chunks and no worker process: the test itself plays the workers.
  h = await startHarness({ DIRECT_BATCH_CHUNK: "100", DB_POOL_SIZE: "12" });
});
afterAll(async () => {
  await h?.close();
});

describe("DIRECT chunks under concurrent workers", () => {
  it("four workers draining one batch process every chunk exactly once", async () => {
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: 1500 });
    const userIds = Array.from({ length: 2000 }, (_, i) => String(3_000_000 + i));
    const res = await h.app.inject({
      method: "POST",
      url: `/admin/policies/${policy.id}/direct-issues`,
      headers: { ...bearer(adminToken()), "content-type": "application/json" },
      payload: JSON.stringify({ userIds }),
    });
    expect(res.statusCode).toBe(202);
    const batchId: string = res.json().batchId;

    const claimed: number[][] = [[], [], [], []];
    await Promise.all(
      claimed.map(async (mine) => {
        for (;;) {
          const r = await issueDirectChunk(h.prisma, h.redis, h.keys, batchId, policy.id);
          if (r.kind !== "issued") {
            expect(r.kind).toBe("no-chunk-left");
            return;
          }
          mine.push(r.outcome.chunkNo);
        }
      }),
    );
    const all = claimed.flat();
    expect(all).toHaveLength(20);
    expect(new Set(all).size).toBe(20);
    expect(claimed.filter((c) => c.length > 0).length).toBeGreaterThan(1);

    const coupons = await h.prisma.couponIssue.findMany({ where: { policyId: BigInt(policy.id) }, select: { userId: true } });
    expect(coupons).toHaveLength(1500);
    expect(new Set(coupons.map((c) => c.userId)).size).toBe(1500);
    const b = await h.prisma.directBatch.findUniqueOrThrow({ where: { id: BigInt(batchId) } });
    expect(b).toMatchObject({ processed: 2000, successCount: 1500, failureCount: 500 });
  });
});
