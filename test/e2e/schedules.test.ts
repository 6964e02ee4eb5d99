// Scheduled maintenance through the real worker process: expiry, reservation release,
// reconciliation, the one-run-at-a-time lock, and the admin schedules API that drives them.
import { tryAdvisoryLock } from "@coupon/db/lock";
import { admitRequest } from "@coupon/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { jobResult, runJob, triggerJob } from "../support/maintenance.js";
import { startWorker, type Proc } from "../support/processes.js";
import { adminToken, bearer, userToken } from "../support/tokens.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
let worker: Proc & { metricsPort: number };
const procs: Proc[] = [];
const BATCH = 100;
let nextUser = 7_000_000;

beforeAll(async () => {
  h = await startHarness();
  worker = await startWorker({ ...h.env, EXPIRY_BATCH: String(BATCH), RECOVERY_EVERY_MS: "60000" });
  procs.push(worker);
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill("SIGKILL")));
  await h?.close();
});

interface Rows {
  status: "ISSUED" | "RESERVED" | "USED";
  expiresInMs: number;
  reservedAgoMs?: number;
}

/** Inserts n coupons of a policy directly, each for a user of its own; returns their user ids. */
async function insertCoupons(policyId: string, n: number, rows: Rows): Promise<bigint[]> {
  const first = nextUser;
  nextUser += n;
  const reserved = rows.reservedAgoMs === undefined ? null : new Date(Date.now() - rows.reservedAgoMs);
  await h.prisma.$executeRaw`
    INSERT INTO coupon_issues (policy_id, user_id, user_slot, coupon_number, request_id, status, issued_at, expires_at,
                               reserved_at, order_id, reservation_id, used_at)
    SELECT ${policyId}::bigint, g, 1, 'T' || md5(random()::text || g), NULL, ${rows.status}::"CouponStatus",
           now() - interval '40 days', ${new Date(Date.now() + rows.expiresInMs)},
           ${reserved}::timestamptz,
           CASE WHEN ${rows.status} = 'RESERVED' THEN 'order-' || g END,
           CASE WHEN ${rows.status} = 'RESERVED' THEN 'resv-' || g END,
           CASE WHEN ${rows.status} = 'USED' THEN now() END
    FROM generate_series(${first}::bigint, ${first + n - 1}::bigint) AS g`;
  return Array.from({ length: n }, (_, i) => BigInt(first + i));
}

async function versions(userIds: bigint[]): Promise<number[]> {
  return Promise.all(userIds.map(async (u) => Number((await h.redis.get(h.keys.user(u.toString()).couponsVersion)) ?? 0)));
}

async function statuses(userIds: bigint[]) {
  return h.prisma.couponIssue.findMany({ where: { userId: { in: userIds } }, orderBy: { userId: "asc" } });
}

describe("schedules API", () => {
  it("asks for an admin, knows its four jobs, and 404s an unknown one", async () => {
    expect((await h.app.inject({ method: "GET", url: "/admin/schedules" })).statusCode).toBe(401);
    const asUser = await h.app.inject({ method: "GET", url: "/admin/schedules", headers: bearer(userToken("5")) });
    expect(asUser.statusCode).toBe(403);
    const runAsUser = await h.app.inject({ method: "POST", url: "/admin/schedules/expiry/run", headers: bearer(userToken("5")) });
    expect(runAsUser.statusCode).toBe(403);
    expect((await h.app.inject({ method: "POST", url: "/admin/schedules/expiry/run" })).statusCode).toBe(401);
    const unknown = await h.app.inject({ method: "POST", url: "/admin/schedules/vacuum/run", headers: bearer(adminToken()) });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe("SCHEDULE_NOT_FOUND");
    expect(unknown.headers["content-type"]).toContain("application/problem+json");

    const res = await h.app.inject({ method: "GET", url: "/admin/schedules", headers: bearer(adminToken()) });
    expect(res.statusCode).toBe(200);
    const list = res.json() as { name: string; pattern: string | null; every: number | null; nextRunAt: string | null }[];
    expect(list.map((s) => s.name).sort()).toEqual(["expiry", "reconciliation", "recover-admissions", "reservation-release"]);
    for (const name of ["expiry", "reconciliation", "reservation-release"]) {
      const s = list.find((x) => x.name === name);
      expect(s?.pattern).toBe(h.env.EXPIRY_CRON); // the worker registered the test's cron
      expect(Date.parse(s?.nextRunAt ?? "")).toBeGreaterThan(Date.now());
    }
    expect(list.find((x) => x.name === "recover-admissions")?.every).toBe(60_000);
  });

  it("202 runs the job; GET then shows its last run", async () => {
    const res = await h.app.inject({ method: "POST", url: "/admin/schedules/reconciliation/run", headers: bearer(adminToken()) });
    expect(res.statusCode).toBe(202);
    const run = await jobResult(h.maintenanceQueue, res.json().jobId);
    expect(run.outcome).toBe("ok");
    const list = (await h.app.inject({ method: "GET", url: "/admin/schedules", headers: bearer(adminToken()) })).json() as {
      name: string;
      lastRun: { outcome: string; startedAt: string; finishedAt: string; result: Record<string, number> } | null;
    }[];
    const last = list.find((s) => s.name === "reconciliation")?.lastRun;
    expect(last?.outcome).toBe("ok");
    expect(Date.parse(last?.finishedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(last?.startedAt ?? ""));
    expect(last?.result).toMatchObject({ policies: expect.any(Number) });
  });
});

describe("expiry", () => {
  it("expires only the due ISSUED coupons, in batches, with audit rows, events and cache bumps, deleting nothing", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 1000 });
    const due = await insertCoupons(policy.id, BATCH * 2 + 50, { status: "ISSUED", expiresInMs: -3_600_000 });
    const notDue = await insertCoupons(policy.id, 7, { status: "ISSUED", expiresInMs: 3_600_000 });
    const reservedPast = await insertCoupons(policy.id, 3, { status: "RESERVED", expiresInMs: -3_600_000, reservedAgoMs: 1000 });
    const usedPast = await insertCoupons(policy.id, 3, { status: "USED", expiresInMs: -3_600_000 });
    const pid = BigInt(policy.id);
    const before = await h.prisma.couponIssue.count({ where: { policyId: pid } });
    const versionsBefore = await versions(due);

    const run = await runJob(h.app, h.maintenanceQueue, "expiry");
    expect(run.outcome).toBe("ok");
    expect(run.result.expired).toBeGreaterThanOrEqual(due.length);
    expect(run.result.batches).toBeGreaterThanOrEqual(3); // 250 rows, 100 a batch

    expect(await h.prisma.couponIssue.count({ where: { policyId: pid } })).toBe(before);
    const after = await statuses(due);
    expect(after.every((c) => c.status === "EXPIRED")).toBe(true);
    expect((await statuses(notDue)).every((c) => c.status === "ISSUED")).toBe(true);
    expect((await statuses(reservedPast)).every((c) => c.status === "RESERVED")).toBe(true);
    expect((await statuses(usedPast)).every((c) => c.status === "USED")).toBe(true);

    const ids = after.map((c) => c.id);
    const audits = await h.prisma.couponAudit.findMany({ where: { couponId: { in: ids } } });
    expect(audits).toHaveLength(ids.length);
    expect(audits.every((a) => a.action === "EXPIRED")).toBe(true);
    const events = await h.prisma.outboxEvent.findMany({ where: { aggregateId: { in: ids } } });
    expect(events).toHaveLength(ids.length);
    const sample = after[0]!;
    const event = events.find((e) => e.aggregateId === sample.id);
    expect(event?.eventType).toBe("CouponExpired");
    expect(event?.payload).toMatchObject({
      type: "CouponExpired",
      couponId: sample.id.toString(),
      couponNumber: sample.couponNumber,
      policyId: policy.id,
      userId: sample.userId.toString(),
      status: "EXPIRED",
      occurredAt: expect.any(String),
    });
    const versionsAfter = await versions(due);
    versionsAfter.forEach((v, i) => expect(v).toBeGreaterThan(versionsBefore[i] ?? 0));
    // Untouched coupons' holders were not told anything changed.
    expect(await versions(notDue)).toEqual(notDue.map(() => 0));
    const untouched = await h.prisma.couponAudit.count({
      where: { couponId: { in: (await statuses([...notDue, ...reservedPast, ...usedPast])).map((c) => c.id) } },
    });
    expect(untouched).toBe(0);
  });

});

describe("reservation release", () => {
  it("stale reservations go back to ISSUED with RELEASED audit (TIMEOUT) and CouponReleased events; fresh ones stay", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 1000 });
    const stale = await insertCoupons(policy.id, BATCH + 30, { status: "RESERVED", expiresInMs: 86_400_000, reservedAgoMs: 31 * 60_000 });
    const fresh = await insertCoupons(policy.id, 4, { status: "RESERVED", expiresInMs: 86_400_000, reservedAgoMs: 60_000 });
    const pid = BigInt(policy.id);
    const before = await h.prisma.couponIssue.count({ where: { policyId: pid } });
    const versionsBefore = await versions(stale);

    const run = await runJob(h.app, h.maintenanceQueue, "reservation-release");
    expect(run.outcome).toBe("ok");
    expect(run.result.released).toBeGreaterThanOrEqual(stale.length);
    expect(run.result.batches).toBeGreaterThanOrEqual(2);

    expect(await h.prisma.couponIssue.count({ where: { policyId: pid } })).toBe(before);
    const released = await statuses(stale);
    for (const c of released) {
      expect(c.status).toBe("ISSUED");
      expect(c.reservedAt).toBeNull();
      expect(c.orderId).toBeNull();
      expect(c.reservationId).toBeNull();
    }
    const kept = await statuses(fresh);
    expect(kept.every((c) => c.status === "RESERVED" && c.orderId !== null && c.reservedAt !== null)).toBe(true);

    const ids = released.map((c) => c.id);
    const audits = await h.prisma.couponAudit.findMany({ where: { couponId: { in: ids } } });
    expect(audits).toHaveLength(ids.length);
    const c0 = released[0]!;
    expect(audits.find((a) => a.couponId === c0.id)).toMatchObject({
      action: "RELEASED",
      details: { reason: "TIMEOUT", orderId: `order-${c0.userId}`, reservationId: `resv-${c0.userId}` },
    });
    const events = await h.prisma.outboxEvent.findMany({ where: { aggregateId: { in: ids } } });
    expect(events).toHaveLength(ids.length);
    expect(events.find((e) => e.aggregateId === c0.id)?.payload).toMatchObject({
      type: "CouponReleased",
      couponId: c0.id.toString(),
      status: "ISSUED",
      reason: "TIMEOUT",
      orderId: `order-${c0.userId}`,
      reservationId: `resv-${c0.userId}`,
    });
    const versionsAfter = await versions(stale);
    versionsAfter.forEach((v, i) => expect(v).toBeGreaterThan(versionsBefore[i] ?? 0));
    expect(await h.prisma.couponAudit.count({ where: { couponId: { in: kept.map((c) => c.id) } } })).toBe(0);
  });
});

describe("one run at a time", () => {
  it("a run that finds the job's lock taken is skipped and changes nothing", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 100 });
    const due = await insertCoupons(policy.id, 5, { status: "ISSUED", expiresInMs: -60_000 });
    const lock = await tryAdvisoryLock(h.env.DATABASE_URL, `${h.env.REDIS_PREFIX}:expiry`);
    expect(lock).not.toBeNull();
    try {
      expect((await runJob(h.app, h.maintenanceQueue, "expiry")).outcome).toBe("skipped");
      expect((await statuses(due)).every((c) => c.status === "ISSUED")).toBe(true);
    } finally {
      await lock?.release();
    }
    expect((await runJob(h.app, h.maintenanceQueue, "expiry")).outcome).toBe("ok");
    expect((await statuses(due)).every((c) => c.status === "EXPIRED")).toBe(true);
  });

  it("two workers, a run triggered twice at once: the body runs once (one ok, one skipped), each coupon expired once", async () => {
    const second = await startWorker({ ...h.env, EXPIRY_BATCH: String(BATCH), RECOVERY_EVERY_MS: "60000" });
    procs.push(second);
    const policy = await createPolicy(h.app, { totalQuantity: 100 });
    // Enough rows that the first run is still going when the second starts (100 a batch).
    const due = await insertCoupons(policy.id, 40_000, { status: "ISSUED", expiresInMs: -60_000 });
    const countsBefore = await h.redis.hgetall(h.keys.scheduleRuns("expiry"));
    const jobIds = await Promise.all([triggerJob(h.app, "expiry"), triggerJob(h.app, "expiry")]);
    const runs = await Promise.all(jobIds.map((id) => jobResult(h.maintenanceQueue, id, 120_000)));
    expect(runs.map((r) => r.outcome).sort()).toEqual(["ok", "skipped"]);
    const counts = await h.redis.hgetall(h.keys.scheduleRuns("expiry"));
    expect(Number(counts["runs:ok"]) - Number(countsBefore["runs:ok"] ?? 0)).toBe(1);
    expect(Number(counts["runs:skipped"]) - Number(countsBefore["runs:skipped"] ?? 0)).toBe(1);

    const pid = BigInt(policy.id);
    expect(await h.prisma.couponIssue.count({ where: { policyId: pid, status: "EXPIRED" } })).toBe(due.length);
    const audits = await h.prisma.$queryRaw<{ n: bigint; coupons: bigint }[]>`
      SELECT count(*) AS n, count(DISTINCT a.coupon_id) AS coupons FROM coupon_audit a
      JOIN coupon_issues c ON c.id = a.coupon_id WHERE c.policy_id = ${pid} AND a.action = 'EXPIRED'`;
    expect(Number(audits[0]?.n)).toBe(due.length);
    expect(Number(audits[0]?.coupons)).toBe(due.length);
    await second.kill("SIGTERM");
  });
});

describe("reconciliation", () => {
  async function issueAndSettle(policyId: string, users: string[]): Promise<void> {
    for (const u of users) {
      const res = await h.app.inject({ method: "POST", url: `/policies/${policyId}/issue`, headers: bearer(userToken(u)) });
      expect(res.statusCode).toBe(202);
    }
    await waitFor("issued in PostgreSQL", async () => {
      const p = await h.prisma.couponPolicy.findUniqueOrThrow({ where: { id: BigInt(policyId) } });
      return p.issuedCount === users.length && (await h.redis.hlen(h.keys.policy(policyId).pending)) === 0;
    }, 30_000, 50);
  }

  async function drift(policyId: string): Promise<number | null> {
    const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    const m = text.match(new RegExp(`coupon_reconcile_drift\\{[^}]*policy_id="${policyId}"[^}]*\\} (-?\\d+)`));
    return m ? Number(m[1]) : null;
  }

  it("raises a lowered admitted counter to issued + pending, and reports the drift", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 10 });
    await issueAndSettle(policy.id, ["9101", "9102", "9103"]);
    // One admission Redis holds as pending that never reached the queue (nor PostgreSQL).
    const requestId = `${policy.id}-reconcile000000000000000001`;
    expect((await admitRequest(h.redis, h.keys, { policyId: policy.id, userId: "9104", requestId, way: "FCFS", clientIp: "" })).ok).toBe(true);
    const admittedKey = h.keys.policy(policy.id).admitted;
    expect(await h.redis.get(admittedKey)).toBe("4");

    await h.redis.set(admittedKey, "1"); // a lost write: Redis now thinks 9 coupons are left, not 6
    const run = await runJob(h.app, h.maintenanceQueue, "reconciliation");
    expect(run.outcome).toBe("ok");
    expect(run.result.raised).toBeGreaterThanOrEqual(1);
    expect(await h.redis.get(admittedKey)).toBe("4");
    expect(await drift(policy.id)).toBe(-3);
    // The stranded admission is still pending (recovery waits RECOVERY_GRACE_MS).
    const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    expect(Number(/^coupon_admissions_pending\{[^}]*\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1);

    // Back in step: nothing to do, no drift.
    await runJob(h.app, h.maintenanceQueue, "reconciliation");
    expect(await h.redis.get(admittedKey)).toBe("4");
    expect(await drift(policy.id)).toBe(0);
  });

  it("reports a counter that is too high without lowering it", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 10 });
    await issueAndSettle(policy.id, ["9201", "9202"]);
    const admittedKey = h.keys.policy(policy.id).admitted;
    await h.redis.set(admittedKey, "5");
    const run = await runJob(h.app, h.maintenanceQueue, "reconciliation");
    expect(run.result.leaked).toBeGreaterThanOrEqual(1);
    expect(await h.redis.get(admittedKey)).toBe("5");
    expect(await drift(policy.id)).toBe(3);
  });

  it("rebuilds a policy Redis lost from PostgreSQL", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 10 });
    await issueAndSettle(policy.id, ["9301", "9302"]);
    const k = h.keys.policy(policy.id);
    await h.redis.del(k.meta, k.admitted, k.counts, k.first);
    const run = await runJob(h.app, h.maintenanceQueue, "reconciliation");
    expect(run.result.rebuilt).toBeGreaterThanOrEqual(1);
    expect(await h.redis.get(k.admitted)).toBe("2");
    expect(await h.redis.hget(k.counts, "9301")).toBe("1");
    expect(await h.redis.hget(k.meta, "status")).toBe("ACTIVE");
  });
});

describe("expiry at scale", () => {
  it("the (status, expires_at) index serves the due-coupon scan, in expiry order, without a sort", async () => {
    // A table the size where it matters (most coupons not due), with fresh statistics.
    const policy = await createPolicy(h.app, { totalQuantity: 100 });
    await insertCoupons(policy.id, 30_000, { status: "ISSUED", expiresInMs: 30 * 86_400_000 });
    await insertCoupons(policy.id, 300, { status: "ISSUED", expiresInMs: -60_000 });
    await h.prisma.$executeRawUnsafe("ANALYZE coupon_issues");
    const plan = await h.prisma.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(
      `EXPLAIN SELECT ctid AS tid, id FROM coupon_issues WHERE status = 'ISSUED' AND expires_at <= now()
       ORDER BY expires_at LIMIT 5000 FOR UPDATE SKIP LOCKED`,
    );
    const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
    expect(text).toMatch(/Index (Only )?Scan using coupon_issues_status_expires_at_idx/);
    expect(text).not.toMatch(/Sort|Seq Scan/);
    expect((await runJob(h.app, h.maintenanceQueue, "expiry")).outcome).toBe("ok");
  });

  it("the partial reserved_at index serves the stale-reservation scan", async () => {
    // Many coupons at checkout recently, a few reserved long ago: only the index on RESERVED rows'
    // reserved_at finds the old ones without reading the rest.
    const policy = await createPolicy(h.app, { totalQuantity: 100 });
    await insertCoupons(policy.id, 20_000, { status: "RESERVED", expiresInMs: 30 * 86_400_000, reservedAgoMs: 60_000 });
    await insertCoupons(policy.id, 200, { status: "RESERVED", expiresInMs: 30 * 86_400_000, reservedAgoMs: 7_200_000 });
    await h.prisma.$executeRawUnsafe("ANALYZE coupon_issues");
    const plan = await h.prisma.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(
      `EXPLAIN SELECT ctid AS tid, id FROM coupon_issues
       WHERE status = 'RESERVED' AND reserved_at <= now() - interval '30 minutes'
       LIMIT 5000 FOR UPDATE SKIP LOCKED`,
    );
    const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
    expect(text).toMatch(/Index (Only )?Scan using coupon_issues_reserved_at_idx/);
    expect(text).not.toMatch(/Seq Scan/);
  });
});
