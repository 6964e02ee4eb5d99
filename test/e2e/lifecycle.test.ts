// Start-up refuses bad configuration with one clear message; SIGTERM drains and exits 0 without
// losing an admission.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { stampede } from "../support/load.js";
import { startGateway, startWorker } from "../support/processes.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

function runToExit(script: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stderr }));
  });
}

describe("configuration", () => {
  it.each(["apps/gateway/dist/server.js", "apps/worker/dist/main.js"])("%s names every bad value and exits 1", async (script) => {
    const { code, stderr } = await runToExit(script, {
      PORT: "http",
      WORKER_METRICS_PORT: "70000",
      REDIS_URL: "localhost:6379",
      JWT_SECRET: "short",
      LOG_LEVEL: "loud",
    });
    expect(code).toBe(1);
    for (const name of ["PORT", "WORKER_METRICS_PORT", "REDIS_URL", "JWT_SECRET", "LOG_LEVEL"]) expect(stderr).toContain(name);
    expect(stderr).not.toContain("short");
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe("SIGTERM", () => {
  it("a gateway stops mid-burst: it exits 0 and every 202 it gave is persisted", async () => {
    const gateway = await startGateway(h.env);
    const worker = await startWorker(h.env);
    const policy = await createPolicy(h.app, { totalQuantity: 100_000 });
    const users = Array.from({ length: 3000 }, (_, i) => String(700_000 + i));
    const burst = stampede([gateway.url], `/policies/${policy.id}/issue`, users, 32);
    await waitFor("admissions under way", async () => Number(await h.redis.get(h.keys.policy(policy.id).admitted)) > 200, 30_000, 5);
    const exit = gateway.kill("SIGTERM");
    const shots = await burst;
    expect(await exit).toBe(0);
    const winners = shots.filter((s) => s.status === 202);
    expect(winners.length).toBeGreaterThan(0);
    expect(shots.every((s) => [202, 0, 503].includes(s.status))).toBe(true);
    await waitFor("winners persisted", async () => (await h.redis.hlen(h.keys.policy(policy.id).pending)) === 0, 30_000, 100);
    const issued = new Set((await h.prisma.issueRequest.findMany({ where: { policyId: BigInt(policy.id) }, select: { id: true } })).map((r) => r.id));
    for (const w of winners) expect(issued.has(w.requestId as string)).toBe(true);
    expect(await worker.kill("SIGTERM")).toBe(0);
  });

  it("an idle worker exits 0 at once", async () => {
    const worker = await startWorker(h.env);
    const started = Date.now();
    expect(await worker.kill("SIGTERM")).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
