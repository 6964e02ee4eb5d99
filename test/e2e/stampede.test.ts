// Scale-out: two gateway processes and two workers on one Redis prefix and one database.
// Thousands of people press at once, spread over both gateways: exactly the stock is issued,
// nobody twice, every 202 ends ISSUED, Redis' counts match PostgreSQL's, and both workers did part
// of the persisting. Meanwhile two schedulers fire every half second / every second, and every
// firing runs on exactly one worker.
//
// Which schedulers fire often: every test file shares one database, and expiry and reservation
// release change rows of the whole database, so here they stay at once a year (test/support/env.ts).
// Recovery (every 500 ms) reads and writes only this file's Redis prefix. Reconciliation (every
// second, a six-field cron) reads PostgreSQL and writes only this prefix's Redis: another file's
// policies it meets are at worst rebuilt into this prefix, which nobody else reads.
import { readScheduleRun } from "@coupon/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { shuffled, stampede } from "../support/load.js";
import { startGateway, startWorker, type Proc } from "../support/processes.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
const procs: Proc[] = [];
let gateways: string[] = [];
let workers: Proc[] = [];

beforeAll(async () => {
  h = await startHarness();
  const env = {
    ...h.env,
    // Small jobs, so both workers get some of the burst.
    ISSUE_BATCH_MAX: "25",
    LOG_LEVEL: "info",
    RECOVERY_EVERY_MS: "500",
    RECONCILE_CRON: "* * * * * *",
  };
  const [g1, g2, w1, w2] = await Promise.all([startGateway(env), startGateway(env), startWorker(env), startWorker(env)]);
  procs.push(g1, g2, w1, w2);
  gateways = [g1.url, g2.url];
  workers = [w1, w2];
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill("SIGTERM")));
  await h?.close();
});

const linesOf = (p: Proc, msg: string) => p.logLines().filter((l) => l.msg === msg);

describe("a stampede over two gateways and two workers", () => {
  it("issues exactly the stock to distinct users, persists every winner once, and Redis agrees with PostgreSQL", async () => {
    const STOCK = 300;
    const policy = await createPolicy(h.app, { totalQuantity: STOCK });
    const users = Array.from({ length: 3000 }, (_, i) => String(10_000 + i));
    const impatient = users.slice(0, 1000);
    const presses = shuffled([...users, ...impatient]);

    // The load tool sends request i to gateway i % 2.
    const shots = await stampede(gateways, `/policies/${policy.id}/issue`, presses, 64);

    const byStatus = new Map<number, number>();
    for (const s of shots) byStatus.set(s.status, (byStatus.get(s.status) ?? 0) + 1);
    const winners = shots.filter((s) => s.status === 202);
    expect(winners).toHaveLength(STOCK);
    expect(new Set(winners.map((w) => w.userId)).size).toBe(STOCK);
    expect([...byStatus.keys()].sort()).toEqual([202, 409, 410].filter((c) => byStatus.has(c)));
    expect(byStatus.get(410)).toBeGreaterThan(0);
    // Both gateways admitted some of the winners (their own log lines say so).
    const winnerIds = new Set(winners.map((w) => w.requestId as string));
    for (const g of procs.slice(0, 2)) {
      expect(linesOf(g, "admitted").filter((l) => winnerIds.has(l.requestId as string)).length).toBeGreaterThan(0);
    }

    const pid = BigInt(policy.id);
    const k = h.keys.policy(policy.id);
    await waitFor("every winner persisted", async () => (await h.prisma.couponIssue.count({ where: { policyId: pid } })) === STOCK && (await h.redis.hlen(k.pending)) === 0);
    const issued = await h.prisma.issueRequest.findMany({ where: { policyId: pid }, select: { id: true, status: true } });
    expect(issued.every((r) => r.status === "ISSUED")).toBe(true);
    expect(new Set(issued.map((r) => r.id))).toEqual(winnerIds);
    const dup = await h.prisma.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM (SELECT user_id FROM coupon_issues WHERE policy_id = ${pid} GROUP BY user_id HAVING count(*) > 1) d`;
    expect(Number(dup[0]?.n)).toBe(0);
    expect((await h.prisma.couponPolicy.findUniqueOrThrow({ where: { id: pid } })).issuedCount).toBe(STOCK);
    const coupons = await h.prisma.couponIssue.findMany({ where: { policyId: pid }, select: { userId: true } });
    expect(new Set(coupons.map((c) => c.userId.toString()))).toEqual(new Set(winners.map((w) => w.userId)));

    // Redis holds the same: the stock taken, one place per holder, nothing pending.
    expect(Number(await h.redis.get(k.admitted))).toBe(STOCK);
    const counts = await h.redis.hgetall(k.counts);
    expect(Object.keys(counts).sort()).toEqual(coupons.map((c) => c.userId.toString()).sort());
    expect(Object.values(counts).every((n) => n === "1")).toBe(true);
    expect(await h.redis.zcard(k.pendingAt)).toBe(0);

    // Both workers persisted part of the burst, and no admission was persisted by both.
    const perWorker = workers.map((w) => linesOf(w, "admission persisted").filter((l) => winnerIds.has(l.requestId as string)));
    for (const lines of perWorker) expect(lines.length).toBeGreaterThan(0);
    const persisted = perWorker.flat().map((l) => l.requestId as string);
    expect(persisted).toHaveLength(STOCK);
    expect(new Set(persisted)).toEqual(winnerIds);
    process.stdout.write(`persisted per worker: ${perWorker.map((l) => l.length).join(" + ")}\n`);
  });

  it("runs every scheduled firing on exactly one worker", async () => {
    const runs = (name: string) => readScheduleRun(h.redis, h.keys, name);
    const total = (c: { ok: number; failed: number; skipped: number }) => c.ok + c.failed + c.skipped;
    await waitFor(
      "a few dozen firings",
      async () => total((await runs("recover-admissions")).counts) >= 16 && total((await runs("reconciliation")).counts) >= 6,
      60_000,
      200,
    );
    // Stopped gracefully, a worker finishes (and logs) the run it is in: then Redis' run counts
    // and the two logs describe the same runs.
    await Promise.all(workers.map((w) => w.kill("SIGTERM")));

    for (const name of ["recover-admissions", "reconciliation"]) {
      const lines = workers.map((w) => linesOf(w, "scheduled job finished").filter((l) => l.job === name));
      const all = lines.flat();
      const ids = all.map((l) => String(l.jobId));
      // Each firing is one BullMQ job (`repeat:<scheduler>:<tick ms>`); none appears twice, whether
      // it ran ("ok") or met the advisory lock ("skipped"): a tick delivered to both workers would
      // show here even if the lock had kept its body from running twice.
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) expect(id).toMatch(new RegExp(`^repeat:${name}:\\d+$`));
      const ticks = ids.map((id) => Number(id.split(":").pop()));
      expect(new Set(ticks).size).toBe(ticks.length);

      const { counts } = await runs(name);
      expect(counts.failed).toBe(0);
      expect(all.filter((l) => l.outcome === "failed")).toHaveLength(0);
      // Nothing ran unlogged and nothing logged went unrecorded.
      expect(all.filter((l) => l.outcome === "ok")).toHaveLength(counts.ok);
      expect(all.filter((l) => l.outcome === "skipped")).toHaveLength(counts.skipped);
      process.stdout.write(
        `${name}: ${ids.length} firings, per worker ${lines.map((l) => l.length).join(" + ")}, skipped ${counts.skipped}\n`,
      );
    }
    // The six-field cron fires on whole seconds, one second apart (a tick due while its job
    // waited for a busy worker is not added late: a gap of a few seconds, never less than one).
    const reconcileTicks = workers
      .flatMap((w) => linesOf(w, "scheduled job finished").filter((l) => l.job === "reconciliation"))
      .map((l) => Number(String(l.jobId).split(":").pop()))
      .sort((a, b) => a - b);
    const gaps = reconcileTicks.slice(1).map((t, i) => t - (reconcileTicks[i] as number));
    expect(gaps.every((g) => g % 1000 === 0 && g >= 1000)).toBe(true);
    expect(gaps.filter((g) => g === 1000).length).toBeGreaterThan(gaps.length / 2);
  });
});
