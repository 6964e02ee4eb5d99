// The outbox relay, one round at a time, on the real PostgreSQL (a database of this file's own:
// the relay takes every unpublished row it can see) and the real Redis.
import { randomBytes } from "node:crypto";
import { createPrismaClient, type PrismaClient } from "@coupon/db/client";
import { loadConfig } from "@coupon/config";
import { KeySpace, createRedisClient, deleteMatching } from "@coupon/redis";
import { createLogger, createRegistry, workerMetrics, type WorkerMetrics } from "@coupon/telemetry";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOwnDatabase, type OwnDatabase } from "../../../test/support/database.js";
import { testEnv } from "../../../test/support/env.js";
import { insertOutboxEvents } from "../../../test/support/outbox.js";
import { readStream } from "../../../test/support/stream.js";
import { waitFor } from "../../../test/support/wait.js";
import { OUTBOX_RELAY_LOCK, relayOutboxRound, startOutboxRelay, type RelayDeps } from "../src/processors/relay-outbox.js";

const env = testEnv();
const redis = createRedisClient(loadConfig(env));
const log = createLogger("test", "silent");
let db: OwnDatabase;
let prisma: PrismaClient;
let keys: KeySpace;
let metrics: WorkerMetrics;

beforeAll(async () => {
  db = await createOwnDatabase();
  prisma = createPrismaClient(db.url, { poolSize: 6 });
});
afterAll(async () => {
  await deleteMatching(redis, `${env.REDIS_PREFIX}*`);
  await prisma?.$disconnect();
  await redis.quit();
  await db?.drop();
});
beforeEach(async () => {
  // A stream and metrics of each test's own; an empty outbox.
  keys = new KeySpace(`${env.REDIS_PREFIX}-${randomBytes(3).toString("hex")}`);
  metrics = workerMetrics(createRegistry("worker"));
  await prisma.$executeRaw`DELETE FROM outbox_events`;
});

const deps = (batch = 1000): RelayDeps => ({ prisma, redis, keys, metrics, log, batch, maxLen: 1_000_000 });
const published = async () => (await metrics.outboxPublished.get()).values[0]?.value ?? 0;
const unpublished = () => prisma.outboxEvent.count({ where: { publishedAt: null } });
const streamIds = async () => (await readStream(redis, keys.events())).map((e) => e.id);

async function pgClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  return c;
}

describe("outbox relay", () => {
  it("publishes committed events in id order with id, type, couponId and payload, then marks them published", async () => {
    const ids = await insertOutboxEvents(prisma, 30, 4);
    const round = await relayOutboxRound(deps());
    expect(round).toEqual({ kind: "published", count: 30, lastId: String(ids.at(-1)), full: false });

    const events = await readStream(redis, keys.events());
    expect(events.map((e) => e.id)).toEqual(ids.map(String));
    const rows = await prisma.outboxEvent.findMany({ orderBy: { id: "asc" } });
    for (const [i, row] of rows.entries()) {
      const e = events[i];
      expect(e?.type).toBe(row.eventType);
      expect(e?.couponId).toBe(row.aggregateId.toString());
      expect(JSON.parse(e?.payload ?? "null")).toEqual(row.payload);
      expect(row.publishedAt).not.toBeNull();
    }
    expect(await published()).toBe(30);
    expect((await metrics.outboxLagSeconds.get()).values[0]?.value).toBe(0);

    // Nothing is published twice by a later round.
    expect(await relayOutboxRound(deps())).toMatchObject({ kind: "published", count: 0, full: false });
    expect(await redis.xlen(keys.events())).toBe(30);
  });

  it("takes at most a batch per round, oldest first, and says when the batch was full", async () => {
    const ids = await insertOutboxEvents(prisma, 25, 3);
    const counts: [number, boolean][] = [];
    for (let i = 0; i < 4; i++) {
      const r = await relayOutboxRound(deps(10));
      if (r.kind !== "published") throw new Error("skipped");
      counts.push([r.count, r.full]);
      if (i === 0) {
        expect(await streamIds()).toEqual(ids.slice(0, 10).map(String));
        // The gauge shows the age of what is still waiting.
        expect((await metrics.outboxLagSeconds.get()).values[0]?.value).toBeGreaterThanOrEqual(0);
        expect(await unpublished()).toBe(15);
      }
    }
    expect(counts).toEqual([[10, true], [10, true], [5, false], [0, false]]);
    expect(await streamIds()).toEqual(ids.map(String));
  });

  it("never publishes a row whose transaction rolled back, nor one not yet committed", async () => {
    // Rolled back through Prisma, as a failed coupon transition would be.
    await expect(
      prisma.$transaction(async (tx) => {
        await tx.$executeRaw`INSERT INTO outbox_events (event_type, aggregate_id, payload) VALUES ('CouponUsed', 77, '{"type":"CouponUsed"}')`;
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");

    // Uncommitted while the relay runs, then rolled back; a row committed after it still goes out.
    const open = await pgClient();
    try {
      await open.query("BEGIN");
      const pending = await open.query<{ id: string }>(
        `INSERT INTO outbox_events (event_type, aggregate_id, payload) VALUES ('CouponUsed', 78, '{"type":"CouponUsed"}') RETURNING id::text AS id`,
      );
      const after = await insertOutboxEvents(prisma, 3, 3);
      expect(await relayOutboxRound(deps())).toMatchObject({ count: 3 });
      expect(await streamIds()).toEqual(after.map(String));
      await open.query("ROLLBACK");
      expect(await relayOutboxRound(deps())).toMatchObject({ count: 0 });
      const ids = await streamIds();
      expect(ids).not.toContain(pending.rows[0]?.id);
      expect(await readStream(redis, keys.events()).then((es) => es.filter((e) => ["77", "78"].includes(e.couponId)))).toEqual([]);
    } finally {
      await open.end();
    }
  });

  it("skips the round while another relay holds the lock", async () => {
    await insertOutboxEvents(prisma, 5, 2);
    const other = await pgClient();
    try {
      await other.query("BEGIN");
      await other.query("SELECT pg_advisory_xact_lock($1::bigint)", [OUTBOX_RELAY_LOCK.toString()]);
      expect(await relayOutboxRound(deps())).toEqual({ kind: "skipped" });
      expect(await redis.exists(keys.events())).toBe(0);
      expect(await unpublished()).toBe(5);
      await other.query("COMMIT");
      expect(await relayOutboxRound(deps())).toMatchObject({ kind: "published", count: 5 });
    } finally {
      await other.end();
    }
  });

  it("a round whose XADD fails rolls back, counts an error, and its events go out once Redis takes them", async () => {
    const ids = await insertOutboxEvents(prisma, 20, 4);
    // A string where the stream should be: every XADD answers WRONGTYPE.
    await redis.set(keys.events(), "not a stream");
    const relay = startOutboxRelay({ ...deps(), pollMs: 20 });
    try {
      await waitFor("a failed round", async () => ((await metrics.outboxRelayErrors.get()).values[0]?.value ?? 0) >= 1);
      expect(await unpublished()).toBe(20);
      expect(await published()).toBe(0);
      await redis.del(keys.events());
      await waitFor("the events relayed", async () => (await unpublished()) === 0, 10_000);
    } finally {
      await relay.stop();
    }
    expect(await streamIds()).toEqual(ids.map(String));
  });

  it("a relay that dies between its XADDs and its commit leaves the batch unpublished; the next round sends it again", async () => {
    const ids = await insertOutboxEvents(prisma, 50, 5);
    const blocker = await pgClient();
    const killer = await pgClient();
    try {
      // Hold one row of the batch so the relay's UPDATE waits after its XADDs went out.
      await blocker.query("BEGIN");
      await blocker.query("SELECT 1 FROM outbox_events WHERE id = $1 FOR UPDATE", [ids.at(-1)?.toString()]);
      const dying = relayOutboxRound(deps());
      await waitFor("the batch in the stream", async () => (await redis.xlen(keys.events())) === 50);
      // The relay's connection dies mid-transaction, as it would with its process.
      const [victim] = (
        await killer.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%UPDATE outbox_events%' AND wait_event_type = 'Lock'",
        )
      ).rows;
      expect(victim).toBeDefined();
      await killer.query("SELECT pg_terminate_backend($1)", [victim?.pid]);
      await expect(dying).rejects.toThrow();
      await blocker.query("ROLLBACK");
    } finally {
      await blocker.end();
      await killer.end();
    }
    expect(await unpublished()).toBe(50);
    expect(await published()).toBe(0);
    expect(await relayOutboxRound(deps())).toMatchObject({ count: 50 });
    const twice = await streamIds();
    expect(twice.slice(0, 50)).toEqual(ids.map(String));
    expect(twice.slice(50)).toEqual(ids.map(String));
    expect(await unpublished()).toBe(0);
  });

  it("stop() lets the batch in flight commit, then no round runs", async () => {
    const ids = await insertOutboxEvents(prisma, 10, 2);
    const blocker = await pgClient();
    await blocker.query("BEGIN");
    await blocker.query("SELECT 1 FROM outbox_events WHERE id = $1 FOR UPDATE", [ids.at(-1)?.toString()]);
    const relay = startOutboxRelay({ ...deps(), pollMs: 20 });
    let stopped = false;
    try {
      await waitFor("the batch in the stream", async () => (await redis.xlen(keys.events())) === 10);
      const stopping = relay.stop().then(() => (stopped = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(stopped).toBe(false);
      await blocker.query("ROLLBACK");
      await stopping;
    } finally {
      await blocker.end();
      await relay.stop();
    }
    expect(await unpublished()).toBe(0);
    await insertOutboxEvents(prisma, 3, 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(await unpublished()).toBe(3);
    expect(await streamIds()).toEqual(ids.map(String));
  });
});
