// An admission whose persistence job cannot be enqueued: the answer was already 202, so it is
// counted (coupon_enqueue_failures_total) and logged, and recovery persists it later.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { startWorker, type Proc } from "../support/processes.js";
import { bearer, userToken } from "../support/tokens.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
let worker: Proc | undefined;

beforeAll(async () => {
  h = await startHarness({ LOG_LEVEL: "fatal" });
});
afterAll(async () => {
  await worker?.kill("SIGTERM");
  await h?.close();
});

const metric = async (name: string): Promise<number | undefined> => {
  const text = (await h.app.inject({ url: "/metrics" })).body;
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ").pop());
};

describe("enqueue failures", () => {
  it("are counted, and recovery persists the admissions anyway", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 5 });
    expect(await metric("coupon_enqueue_failures_total")).toBe(0);
    // The queue's job-id counter holds a word: BullMQ's add script fails on its INCR, while the
    // admission script (other keys) goes on as usual.
    const idKey = h.queue.toKey("id");
    await h.redis.set(idKey, "not-a-number");
    const presses = await Promise.all(
      [901, 902, 903].map((u) => h.app.inject({ method: "POST", url: `/policies/${policy.id}/issue`, headers: bearer(userToken(u)) })),
    );
    expect(presses.map((r) => r.statusCode)).toEqual([202, 202, 202]);
    await waitFor("three enqueue failures counted", async () => (await metric("coupon_enqueue_failures_total")) === 3, 10_000, 50);

    await h.redis.del(idKey);
    // A worker whose recovery looks for admissions pending longer than half a second.
    worker = await startWorker({ ...h.env, RECOVERY_GRACE_MS: "500", RECOVERY_EVERY_MS: "500" });
    for (const [i, press] of presses.entries()) {
      const { requestId } = press.json();
      const settled = await waitFor(
        `request ${requestId} persisted by recovery`,
        async () => {
          const r = (await h.app.inject({ url: `/issue-requests/${requestId}`, headers: bearer(userToken(901 + i)) })).json();
          return r.status === "PENDING" ? null : r;
        },
        30_000,
        100,
      );
      expect(settled.status).toBe("ISSUED");
    }
    expect(await h.prisma.couponIssue.count({ where: { policyId: BigInt(policy.id) } })).toBe(3);
  });
});
