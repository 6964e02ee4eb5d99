// A gateway whose Redis dies: issue requests are 503, counted as admission errors and as
// UNAVAILABLE answers (the design's admission failure alarm reads these two counters).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "../support/harness.js";
import { startOwnRedis, type OwnRedis } from "../support/redis-server.js";
import { bearer, userToken } from "../support/tokens.js";

let own: OwnRedis;
let h: Harness;

beforeAll(async () => {
  own = await startOwnRedis();
  h = await startHarness({ REDIS_URL: own.url, LOG_LEVEL: "fatal" });
});
afterAll(async () => {
  await own?.stop();
  // The gateway's close and the key cleanup cannot reach the dead Redis: bounded, not awaited forever.
  await Promise.race([h?.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
});

describe("admission errors", () => {
  it("are counted when Redis goes away", async () => {
    await own.stop(); // SIGKILL, then waits for the exit
    const res = await h.app.inject({ method: "POST", url: "/policies/12/issue", headers: bearer(userToken(5)) });
    expect(res.statusCode).toBe(503);
    const text = (await h.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(text).toMatch(/^coupon_admission_errors_total\{way="FCFS",service="gateway"\} 1$/m);
    expect(text).toMatch(/^coupon_issue_requests_total\{way="FCFS",outcome="UNAVAILABLE",service="gateway"\} 1$/m);
  });
});
