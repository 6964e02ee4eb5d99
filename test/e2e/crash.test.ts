// kill -9 in the middle: no admitted user is left without a coupon, nobody gets two.
import { admitRequest } from "@coupon/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { shuffled, stampede, type Shot } from "../support/load.js";
import { startGateway, startWorker, type Proc } from "../support/processes.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
const procs: Proc[] = [];
// Dead workers' jobs come back within seconds, and recovery looks for stranded admissions often.
const fastRecovery = {
  WORKER_LOCK_DURATION_MS: "3000",
  WORKER_STALLED_INTERVAL_MS: "1000",
  RECOVERY_GRACE_MS: "2000",
  RECOVERY_EVERY_MS: "1000",
};

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill("SIGKILL")));
  await h?.close();
});

async function expectAllIssued(policyId: string, winners: Shot[]): Promise<void> {
  const pid = BigInt(policyId);
  await waitFor(
    "no admission left pending",
    async () => (await h.redis.hlen(h.keys.policy(policyId).pending)) === 0,
    60_000,
    200,
  );
  const admitted = Number(await h.redis.get(h.keys.policy(policyId).admitted));
  const coupons = await h.prisma.couponIssue.findMany({ where: { policyId: pid }, select: { userId: true, requestId: true } });
  expect(coupons.length).toBe(admitted);
  expect(new Set(coupons.map((c) => c.userId)).size).toBe(coupons.length);
  const requests = await h.prisma.issueRequest.findMany({ where: { policyId: pid } });
  expect(requests.every((r) => r.status === "ISSUED")).toBe(true);
  const issuedIds = new Set(requests.map((r) => r.id));
  for (const w of winners) expect(issuedIds.has(w.requestId as string), w.requestId).toBe(true);
  expect((await h.prisma.couponPolicy.findUniqueOrThrow({ where: { id: pid } })).issuedCount).toBe(coupons.length);
}

describe("crashes", () => {
  it("an admission whose gateway died before the enqueue is recovered", async () => {
    const worker = await startWorker({ ...h.env, ...fastRecovery });
    procs.push(worker);
    const policy = await createPolicy(h.app, { totalQuantity: 10 });
    // Exactly what a gateway does before it would enqueue: the Lua admission, and then nothing.
    const requestId = `${policy.id}-stranded00000000000000000`;
    const r = await admitRequest(h.redis, h.keys, { policyId: policy.id, userId: "4242", requestId, way: "FCFS", clientIp: "" });
    expect(r.ok).toBe(true);
    await waitFor("the stranded admission issued", () => h.prisma.issueRequest.findUnique({ where: { id: requestId } }), 30_000, 200);
    await expectAllIssued(policy.id, [{ userId: "4242", status: 202, requestId }]);
    await worker.kill("SIGTERM");
  });

  it("a worker killed -9 while persisting: after a restart every admitted request is ISSUED, none twice", async () => {
    const env = { ...h.env, ...fastRecovery, ISSUE_BATCH_MAX: "20", WORKER_CONCURRENCY: "4" };
    const gateway = await startGateway(env);
    let worker = await startWorker(env);
    procs.push(gateway, worker);
    const policy = await createPolicy(h.app, { totalQuantity: 2000 });
    const pid = BigInt(policy.id);
    const users = Array.from({ length: 2000 }, (_, i) => String(50_000 + i));
    const burst = stampede([gateway.url], `/policies/${policy.id}/issue`, users, 32);
    await waitFor("persistence under way", async () => (await h.prisma.couponIssue.count({ where: { policyId: pid } })) > 100, 30_000, 10);
    await worker.kill("SIGKILL");
    const shots = await burst;
    const persistedAtKill = await h.prisma.couponIssue.count({ where: { policyId: pid } });
    expect(persistedAtKill).toBeLessThan(2000);
    worker = await startWorker(env);
    procs.push(worker);
    const winners = shots.filter((s) => s.status === 202);
    expect(winners).toHaveLength(2000);
    await expectAllIssued(policy.id, winners);
    await Promise.all([gateway.kill("SIGTERM"), worker.kill("SIGTERM")]);
  });

  it("a gateway killed -9 mid-burst strands nobody it admitted", async () => {
    const env = { ...h.env, ...fastRecovery };
    const gateway = await startGateway(env);
    const worker = await startWorker(env);
    procs.push(gateway, worker);
    const policy = await createPolicy(h.app, { totalQuantity: 5000 });
    const users = shuffled(Array.from({ length: 4000 }, (_, i) => String(90_000 + i)));
    const burst = stampede([gateway.url], `/policies/${policy.id}/issue`, users, 64);
    await waitFor("admissions under way", async () => Number(await h.redis.get(h.keys.policy(policy.id).admitted)) > 300, 30_000, 5);
    await gateway.kill("SIGKILL");
    const shots = await burst;
    const winners = shots.filter((s) => s.status === 202);
    const cut = shots.filter((s) => s.status === 0).length;
    expect(cut).toBeGreaterThan(0);
    // Admissions made include some whose client never heard back; all of them must be issued.
    await expectAllIssued(policy.id, winners);
    await worker.kill("SIGTERM");
  });
});
