// Redis loses everything mid-sale (FLUSHALL on a Redis server this test runs for itself): the
// policy's state is rebuilt from PostgreSQL, by the admin command or lazily by the first request,
// and a new burst still ends with exactly totalQuantity coupons, nobody holding two.
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { shuffled, stampede, type Shot } from "../support/load.js";
import { startGateway, startWorker, type Proc } from "../support/processes.js";
import { startOwnRedis, type OwnRedis } from "../support/redis-server.js";
import { adminToken, bearer } from "../support/tokens.js";
import { waitFor } from "../support/wait.js";

let own: OwnRedis;
let direct: Redis;
let h: Harness;
let gateway: Proc & { url: string };
const procs: Proc[] = [];

beforeAll(async () => {
  own = await startOwnRedis();
  direct = own.direct;
  h = await startHarness({ REDIS_URL: own.url });
  const env = { ...h.env, RECOVERY_GRACE_MS: "2000", RECOVERY_EVERY_MS: "1000", SCHEDULER_REFRESH_MS: "500" };
  procs.push(await startWorker(env));
  gateway = await startGateway(env);
  procs.push(gateway);
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill("SIGKILL")));
  await h?.close();
  await own?.stop();
});

const users = (from: number, n: number) => Array.from({ length: n }, (_, i) => String(from + i));

async function settled(policyId: string, issued: number): Promise<void> {
  await waitFor(
    `${issued} coupons in PostgreSQL and nothing pending`,
    async () => {
      const p = await h.prisma.couponPolicy.findUniqueOrThrow({ where: { id: BigInt(policyId) } });
      return p.issuedCount === issued && (await direct.hlen(h.keys.policy(policyId).pending)) === 0;
    },
    60_000,
    100,
  );
}

async function expectExactly(policyId: string, total: number, shots: Shot[], earlier: string[]): Promise<void> {
  const pid = BigInt(policyId);
  const coupons = await h.prisma.couponIssue.findMany({ where: { policyId: pid }, select: { userId: true } });
  expect(coupons).toHaveLength(total);
  expect(new Set(coupons.map((c) => c.userId)).size).toBe(total);
  expect((await h.prisma.couponPolicy.findUniqueOrThrow({ where: { id: pid } })).issuedCount).toBe(total);
  const again = new Set(earlier);
  // Earlier holders are refused: ALREADY_ISSUED from the rebuilt holders, or SOLD_OUT once the
  // gateway knows the stock is gone (it answers that from memory before asking Redis).
  for (const s of shots.filter((x) => again.has(x.userId))) expect(["ALREADY_ISSUED", "SOLD_OUT"], `user ${s.userId} again`).toContain(s.code);
  expect(shots.every((s) => s.status !== 0 && s.status < 500)).toBe(true);
}

describe("Redis loses everything", () => {
  it("admin rebuild: 200 once, 409 while Redis holds it, 404 unknown; the next burst issues exactly the rest", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 300 });
    const first = users(100_000, 120);
    const burst1 = await stampede([gateway.url], `/policies/${policy.id}/issue`, first, 32);
    expect(burst1.filter((s) => s.status === 202)).toHaveLength(120);
    await settled(policy.id, 120);

    await direct.flushall();
    // Not dbsize() == 0: the worker re-upserts its job schedulers every 500 ms and may already have.
    const lost = h.keys.policy(policy.id);
    expect(await direct.exists(lost.meta, lost.admitted, lost.counts, lost.first)).toBe(0);

    const rebuild = () => h.app.inject({ method: "POST", url: `/admin/policies/${policy.id}/rebuild`, headers: bearer(adminToken()) });
    const res = await rebuild();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: policy.id, issuedCount: 120, remainingQuantity: 180 });
    expect(await direct.get(h.keys.policy(policy.id).admitted)).toBe("120");
    expect(await direct.hlen(h.keys.policy(policy.id).counts)).toBe(120);
    expect(await direct.hget(h.keys.policy(policy.id).counts, first[0]!)).toBe("1");
    const again = await rebuild();
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe("INVALID_STATE");
    const unknown = await h.app.inject({ method: "POST", url: "/admin/policies/987654321/rebuild", headers: bearer(adminToken()) });
    expect(unknown.statusCode).toBe(404);
    expect((await h.app.inject({ method: "POST", url: `/admin/policies/${policy.id}/rebuild` })).statusCode).toBe(401);

    const crowd = shuffled([...first, ...users(200_000, 880)]);
    const burst2 = await stampede([gateway.url], `/policies/${policy.id}/issue`, crowd, 64);
    expect(burst2.filter((s) => s.status === 202)).toHaveLength(180);
    await settled(policy.id, 300);
    await expectExactly(policy.id, 300, burst2, first);
  });

  it("lazy rebuild: without the admin command, the first request after the loss rebuilds, and nobody oversells", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 50 });
    const first = users(300_000, 30);
    await stampede([gateway.url], `/policies/${policy.id}/issue`, first, 16);
    await settled(policy.id, 30);

    await direct.flushall();

    const crowd = shuffled([...first, ...users(400_000, 400)]);
    const burst = await stampede([gateway.url], `/policies/${policy.id}/issue`, crowd, 64);
    expect(burst.filter((s) => s.status === 202)).toHaveLength(20);
    await settled(policy.id, 50);
    await expectExactly(policy.id, 50, burst, first);
  });

  it("the workers put their job schedulers back after Redis lost them", async () => {
    const schedules = async () =>
      (await h.app.inject({ url: "/admin/schedules", headers: bearer(adminToken()) })).json() as { name: string; nextRunAt: unknown }[];
    await waitFor("schedulers registered", async () => (await schedules()).every((s) => s.nextRunAt !== null), 10_000, 100);
    await direct.flushall();
    await waitFor(
      "schedulers registered again",
      async () => {
        const list = await schedules();
        return list.length >= 4 && list.every((s) => s.nextRunAt !== null);
      },
      10_000,
      100,
    );
  });
});
