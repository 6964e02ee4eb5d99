// The outbox relay in real worker processes: issued coupons reach the event stream, two workers
// never publish out of order or twice, and a worker killed -9 mid-backlog loses nothing and repeats
// only the batch it had in flight. Runs on a database of its own: a relay takes every unpublished
// row it sees, and other files' workers would publish this file's rows to their own streams.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOwnDatabase, type OwnDatabase } from "../support/database.js";
import { createPolicy, deleteKeys, startHarness, type Harness } from "../support/harness.js";
import { insertOutboxEvents } from "../support/outbox.js";
import { startWorker, type Proc } from "../support/processes.js";
import { perCouponOrderViolation, readStream, type StreamEvent } from "../support/stream.js";
import { bearer, userToken } from "../support/tokens.js";
import { waitFor } from "../support/wait.js";

let db: OwnDatabase;
let h: Harness;
const procs: Proc[] = [];
const prefixes: string[] = [];

beforeAll(async () => {
  db = await createOwnDatabase();
  h = await startHarness({ DATABASE_URL: db.url });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill("SIGKILL")));
  for (const p of prefixes) await deleteKeys(h.redis, `${p}:*`);
  await h?.close();
  await db?.drop();
});

/** Worker settings with a stream of the test's own. */
function relayEnv(extra: Record<string, string>): Record<string, string> {
  const prefix = `${h.env.REDIS_PREFIX}-${randomBytes(3).toString("hex")}`;
  prefixes.push(prefix);
  return { ...h.env, REDIS_PREFIX: prefix, OUTBOX_POLL_MS: "20", ...extra };
}
const streamOf = (env: Record<string, string>) => `${env.REDIS_PREFIX}:events`;
const unpublished = () => h.prisma.outboxEvent.count({ where: { publishedAt: null } });

async function publishedByWorker(metricsPort: number): Promise<number> {
  const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = body.split("\n").find((l) => l.startsWith("coupon_outbox_published_total"));
  return Number(line?.split(" ").at(-1) ?? Number.NaN);
}

function countById(events: StreamEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
  return counts;
}

describe("outbox relay in worker processes", () => {
  it("events of issued coupons reach the stream in id order with their fields, and are marked published", async () => {
    const env = relayEnv({ REDIS_PREFIX: h.env.REDIS_PREFIX });
    const policy = await createPolicy(h.app, { totalQuantity: 40 });
    for (let u = 1; u <= 40; u++) {
      const res = await h.app.inject({ method: "POST", url: `/policies/${policy.id}/issue`, headers: bearer(userToken(7000 + u)) });
      expect(res.statusCode).toBe(202);
    }
    const worker = await startWorker(env);
    procs.push(worker);
    const pid = BigInt(policy.id);
    await waitFor("40 coupons relayed", async () => (await h.redis.xlen(streamOf(env))) === 40 && (await unpublished()) === 0, 30_000, 100);

    const coupons = await h.prisma.couponIssue.findMany({ where: { policyId: pid } });
    const outbox = await h.prisma.outboxEvent.findMany({ orderBy: { id: "asc" } });
    expect(outbox).toHaveLength(40);
    expect(outbox.every((o) => o.publishedAt !== null)).toBe(true);
    const events = await readStream(h.redis, streamOf(env));
    expect(events.map((e) => e.id)).toEqual(outbox.map((o) => o.id.toString()));
    const byCoupon = new Map(coupons.map((c) => [c.id.toString(), c]));
    for (const e of events) {
      expect(e.type).toBe("CouponIssued");
      const coupon = byCoupon.get(e.couponId);
      expect(coupon, e.couponId).toBeDefined();
      expect(JSON.parse(e.payload)).toMatchObject({
        type: "CouponIssued",
        couponId: e.couponId,
        couponNumber: coupon?.couponNumber,
        policyId: policy.id,
        userId: coupon?.userId.toString(),
        status: "ISSUED",
        requestId: coupon?.requestId,
        expiresAt: coupon?.expiresAt.toISOString(),
      });
    }
    expect(await publishedByWorker(worker.metricsPort)).toBe(40);
    expect(await worker.kill("SIGTERM")).toBe(0);
  });

  it("two workers relaying one backlog while events keep coming: every event once, in id order", async () => {
    const env = relayEnv({ OUTBOX_BATCH: "100", OUTBOX_POLL_MS: "5" });
    const ids = await insertOutboxEvents(h.prisma, 10_000, 300, 2_000_000);
    const workers = await Promise.all([startWorker(env), startWorker(env)]);
    procs.push(...workers);
    // More events committed one chunk at a time while both relays run.
    for (let i = 0; i < 20; i++) ids.push(...(await insertOutboxEvents(h.prisma, 100, 50, 3_000_000 + i * 50)));
    await waitFor("the backlog relayed", async () => (await unpublished()) === 0, 60_000, 100);

    const events = await readStream(h.redis, streamOf(env));
    const streamIds = events.map((e) => BigInt(e.id));
    for (let i = 1; i < streamIds.length; i++) {
      if ((streamIds[i] as bigint) <= (streamIds[i - 1] as bigint)) {
        throw new Error(`stream entry ${i}: event ${streamIds[i]} after ${streamIds[i - 1]}`);
      }
    }
    expect(streamIds).toEqual(ids);
    const perWorker = await Promise.all(workers.map((w) => publishedByWorker(w.metricsPort)));
    expect(perWorker[0]! + perWorker[1]!).toBe(12_000);
    await Promise.all(workers.map((w) => w.kill("SIGTERM")));
  });

  it("a worker killed -9 between its XADDs and its commit, then restarted: nothing lost, only that batch twice", async () => {
    const batch = 250;
    const env = relayEnv({ OUTBOX_BATCH: String(batch) });
    const ids = await insertOutboxEvents(h.prisma, 20_000, 500, 4_000_000);
    // Hold one row of the 21st batch: the relay sends that batch's XADDs, then waits in its UPDATE.
    const held = ids[5_037] as bigint;
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    let worker: Proc;
    try {
      await blocker.query("BEGIN");
      await blocker.query("SELECT 1 FROM outbox_events WHERE id = $1 FOR UPDATE", [held.toString()]);
      worker = await startWorker(env);
      procs.push(worker);
      await waitFor("the held batch in the stream", async () => (await h.redis.xlen(streamOf(env))) === 5_250, 60_000, 20);
      await worker.kill("SIGKILL");
    } finally {
      // Its orphaned session then finishes the UPDATE, finds the client gone and rolls back.
      await blocker.query("ROLLBACK");
      await blocker.end();
    }
    await waitFor("the dead relay's transaction rolled back", async () => (await unpublished()) === 15_000, 10_000, 20);

    worker = await startWorker(env);
    procs.push(worker);
    await waitFor("the backlog relayed", async () => (await unpublished()) === 0, 60_000, 100);
    await worker.kill("SIGTERM");

    const events = await readStream(h.redis, streamOf(env));
    const counts = countById(events);
    expect([...counts.keys()].sort()).toEqual(ids.map(String).sort());
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    const twice = [...counts].filter(([, n]) => n === 2).map(([id]) => id);
    expect(twice.map(BigInt).sort((a, b) => (a < b ? -1 : 1))).toEqual(ids.slice(5_000, 5_000 + batch));
    expect(events).toHaveLength(20_000 + batch);
    expect(perCouponOrderViolation(events)).toBeNull();
  });

  it("a worker killed -9 at an arbitrary moment of a large backlog, then restarted: duplicates only from its batch in flight", async () => {
    const batch = 200;
    const env = relayEnv({ OUTBOX_BATCH: String(batch) });
    const ids = await insertOutboxEvents(h.prisma, 20_000, 500, 5_000_000);
    let worker = await startWorker(env);
    procs.push(worker);
    await waitFor("relaying under way", async () => (await h.redis.xlen(streamOf(env))) > 3_000, 60_000, 5);
    await worker.kill("SIGKILL");
    // Its session notices the dead client and rolls back whatever it had not committed.
    await waitFor(
      "the dead relay's session gone",
      async () => {
        const busy = await h.prisma.$queryRaw<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE '%outbox_events%' AND state <> 'idle' AND pid <> pg_backend_pid()`;
        return busy[0]?.n === 0;
      },
      10_000,
      20,
    );
    const waiting = (await h.prisma.outboxEvent.findMany({ where: { publishedAt: null }, select: { id: true }, orderBy: { id: "asc" } })).map((r) => r.id);
    expect(waiting.length).toBeGreaterThan(0);
    const inFlight = new Set(waiting.slice(0, batch).map(String));

    worker = await startWorker(env);
    procs.push(worker);
    await waitFor("the backlog relayed", async () => (await unpublished()) === 0, 60_000, 100);
    await worker.kill("SIGTERM");

    const events = await readStream(h.redis, streamOf(env));
    const counts = countById(events);
    expect([...counts.keys()].sort()).toEqual(ids.map(String).sort());
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    for (const [id, n] of counts) if (n === 2) expect(inFlight.has(id), `event ${id} published twice`).toBe(true);
    expect(perCouponOrderViolation(events)).toBeNull();
  });
});
