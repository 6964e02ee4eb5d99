// A gateway whose Redis dies: issue requests are 503, counted as admission errors and as
// UNAVAILABLE answers (the design's admission failure alarm reads these two counters).
import { spawn, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "../support/harness.js";
import { freePort } from "../support/processes.js";
import { bearer, userToken } from "../support/tokens.js";
import { waitFor } from "../support/wait.js";

let redisServer: ChildProcess;
let h: Harness;

beforeAll(async () => {
  const port = await freePort();
  redisServer = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  const direct = new Redis(url, { retryStrategy: () => 50 });
  direct.on("error", () => {}); // refused until the server listens
  await waitFor("own redis-server", async () => (await direct.ping()) === "PONG", 10_000, 50);
  direct.disconnect();
  h = await startHarness({ REDIS_URL: url, LOG_LEVEL: "fatal" });
});
afterAll(async () => {
  redisServer?.kill("SIGKILL");
  // The gateway's close and the key cleanup cannot reach the dead Redis: bounded, not awaited forever.
  await Promise.race([h?.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
});

describe("admission errors", () => {
  it("are counted when Redis goes away", async () => {
    redisServer.kill("SIGKILL");
    await new Promise((resolve) => redisServer.once("exit", resolve));
    const res = await h.app.inject({ method: "POST", url: "/policies/12/issue", headers: bearer(userToken(5)) });
    expect(res.statusCode).toBe(503);
    const text = (await h.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(text).toMatch(/^coupon_admission_errors_total\{way="FCFS",service="gateway"\} 1$/m);
    expect(text).toMatch(/^coupon_issue_requests_total\{way="FCFS",outcome="UNAVAILABLE",service="gateway"\} 1$/m);
  });
});
