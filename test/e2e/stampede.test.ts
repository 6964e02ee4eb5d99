// Thousands of people press at once, through two gateway processes and two workers: exactly the
// stock is issued, nobody twice, every 202 ends ISSUED and nothing stays pending.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { shuffled, stampede } from "../support/load.js";
import { startGateway, startWorker, type Proc } from "../support/processes.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
const procs: Proc[] = [];
let gateways: string[] = [];

beforeAll(async () => {
  h = await startHarness();
  const env = { ...h.env, ISSUE_BATCH_MAX: "200" };
  const [g1, g2, w1, w2] = await Promise.all([startGateway(env), startGateway(env), startWorker(env), startWorker(env)]);
  procs.push(g1, g2, w1, w2);
  gateways = [g1.url, g2.url];
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill("SIGTERM")));
  await h?.close();
});

describe("a stampede", () => {
  it("issues exactly the stock to distinct users and persists every winner", async () => {
    const STOCK = 300;
    const policy = await createPolicy(h.app, { totalQuantity: STOCK });
    const users = Array.from({ length: 3000 }, (_, i) => String(10_000 + i));
    const impatient = users.slice(0, 1000);
    const presses = shuffled([...users, ...impatient]);

    const shots = await stampede(gateways, `/policies/${policy.id}/issue`, presses, 64);

    const byStatus = new Map<number, number>();
    for (const s of shots) byStatus.set(s.status, (byStatus.get(s.status) ?? 0) + 1);
    const winners = shots.filter((s) => s.status === 202);
    expect(winners).toHaveLength(STOCK);
    expect(new Set(winners.map((w) => w.userId)).size).toBe(STOCK);
    expect([...byStatus.keys()].sort()).toEqual([202, 409, 410].filter((c) => byStatus.has(c)));
    expect(byStatus.get(410)).toBeGreaterThan(0);

    const pid = BigInt(policy.id);
    await waitFor("every winner persisted", async () => (await h.prisma.couponIssue.count({ where: { policyId: pid } })) === STOCK && (await h.redis.hlen(h.keys.policy(policy.id).pending)) === 0);
    const issued = await h.prisma.issueRequest.findMany({ where: { policyId: pid }, select: { id: true, status: true } });
    expect(issued.every((r) => r.status === "ISSUED")).toBe(true);
    expect(new Set(issued.map((r) => r.id))).toEqual(new Set(winners.map((w) => w.requestId)));
    const dup = await h.prisma.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM (SELECT user_id FROM coupon_issues WHERE policy_id = ${pid} GROUP BY user_id HAVING count(*) > 1) d`;
    expect(Number(dup[0]?.n)).toBe(0);
    expect((await h.prisma.couponPolicy.findUniqueOrThrow({ where: { id: pid } })).issuedCount).toBe(STOCK);
    const coupons = await h.prisma.couponIssue.findMany({ where: { policyId: pid }, select: { userId: true } });
    expect(new Set(coupons.map((c) => c.userId.toString()))).toEqual(new Set(winners.map((w) => w.userId)));
  });
});
