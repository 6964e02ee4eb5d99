// Load shedding: while the event loop lags (a busy loop in a timer hogs it here), the crowd's
// routes answer 503 with Retry-After and change nothing; health and metrics still answer; once
// the lag is gone, requests are admitted again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../../../../test/support/harness.js";
import { bearer, userToken } from "../../../../test/support/tokens.js";
import { waitFor } from "../../../../test/support/wait.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SHED_EVENT_LOOP_DELAY_MS: "50" });
});
afterAll(async () => {
  await h?.close();
});

/** Blocks the event loop for blockMs out of every blockMs + 10 ms until stopped. */
function hogLoop(blockMs: number): () => void {
  const timer = setInterval(() => {
    const until = performance.now() + blockMs;
    while (performance.now() < until) {
      // busy on purpose
    }
  }, 10);
  return () => clearInterval(timer);
}

const press = (policyId: string, userId: number) =>
  h.app.inject({ method: "POST", url: `/policies/${policyId}/issue`, headers: bearer(userToken(userId)) });

describe("when the event loop lags", () => {
  it("answers the crowd 503 with Retry-After and admits nothing, keeps health and metrics up, and recovers", async () => {
    const p = await createPolicy(h.app, { totalQuantity: 10 });
    const admitted = async () => Number((await h.redis.get(h.keys.policy(p.id).admitted)) ?? 0);
    // Start-up itself can lag past 50 ms on a busy machine: wait for a calm loop first.
    await waitFor("a first admission", async () => (await press(p.id, 1)).statusCode === 202, 5000, 50);

    const stop = hogLoop(250);
    let answers;
    try {
      // Let the sampler see a late tick, then send everything in one turn.
      await new Promise((r) => setTimeout(r, 300));
      answers = await Promise.all([
        press(p.id, 2),
        h.app.inject({ method: "POST", url: "/coupons/claim", headers: bearer(userToken(3)), payload: { code: "whatever" } }),
        h.app.inject({ url: "/me/coupons", headers: bearer(userToken(1)) }),
        h.app.inject({ url: "/health/live" }),
        h.app.inject({ url: "/metrics" }),
      ]);
    } finally {
      stop();
    }
    const [issue, claim, mine, live, metrics] = answers;
    for (const shed of [issue, claim, mine]) {
      expect(shed?.statusCode).toBe(503);
      expect(shed?.headers["retry-after"]).toBe("1");
      expect(shed?.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(shed?.json()).toMatchObject({ status: 503, code: "OVERLOADED" });
    }
    expect(live?.statusCode).toBe(200);
    expect(metrics?.statusCode).toBe(200);
    expect(await admitted()).toBe(1);

    // The lag is gone: the next punctual tick ends the shedding.
    await waitFor("admissions again", async () => (await press(p.id, 2)).statusCode === 202, 5000, 50);
    expect(await admitted()).toBe(2);
  });
});
