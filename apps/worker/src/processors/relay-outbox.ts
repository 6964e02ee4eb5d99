// The outbox relay: publishes committed outbox_events rows to the Redis event stream, oldest first,
// and marks them published. One round is one PostgreSQL transaction:
//
//   try the relay's advisory lock (held by another relay: skip the round)
//   read the oldest unpublished rows, XADD them (one pipeline), mark them published, commit
//
// At least once: a relay that dies after its XADDs and before its commit leaves the rows
// unpublished, and the next round publishes them again (consumers dedupe by the event id).
// In order per coupon: the lock makes one relay publish at a time, each round in id order, and a
// coupon's later event is written by a transaction that waited for the earlier one's row lock,
// so it has a higher id and is committed (visible here) only after the earlier one. (Writers keep
// that true: a transaction writing an event for an existing coupon updates its row first.)
// Never a rolled-back change: only committed rows are visible to the SELECT.
import type { PrismaClient } from "@coupon/db/client";
import type { KeySpace, RedisClient } from "@coupon/redis";
import type { Logger, WorkerMetrics } from "@coupon/telemetry";

/** pg_try_advisory_xact_lock key of the relay: the bytes of "outbox\0\1". Same key in every worker. */
export const OUTBOX_RELAY_LOCK = 0x6f7574626f780001n;

export interface RelayDeps {
  prisma: PrismaClient;
  redis: RedisClient;
  keys: KeySpace;
  metrics: WorkerMetrics;
  log: Logger;
  /** most rows per round (OUTBOX_BATCH) */
  batch: number;
  /** approximate stream length kept (OUTBOX_STREAM_MAXLEN) */
  maxLen: number;
}

export type RoundResult =
  /** another relay holds the lock */
  | { kind: "skipped" }
  | { kind: "published"; count: number; lastId: string | null; full: boolean };

interface OutboxRow {
  id: string;
  event_type: string;
  aggregate_id: string;
  payload: string;
}

/** One relay round. Throws (and rolls back, leaving the rows to a later round) if Redis or PostgreSQL fails. */
export async function relayOutboxRound(deps: RelayDeps): Promise<RoundResult> {
  const result = await deps.prisma.$transaction(
    async (tx): Promise<RoundResult & { lag: number }> => {
      const [lock] = await tx.$queryRaw<{ locked: boolean }[]>`
        SELECT pg_try_advisory_xact_lock(${OUTBOX_RELAY_LOCK}::bigint) AS locked`;
      if (!lock?.locked) return { kind: "skipped", lag: await oldestAge(tx) };

      // ids and payload as text: no bigint or JSON round trip; the payload is published as stored.
      // ORDER BY names the column, not the text alias: "10" sorts before "9".
      const rows = await tx.$queryRaw<OutboxRow[]>`
        SELECT o.id::text AS id, o.event_type, o.aggregate_id::text AS aggregate_id, o.payload::text AS payload
        FROM outbox_events o WHERE o.published_at IS NULL
        ORDER BY o.id LIMIT ${deps.batch}::int`;
      if (rows.length > 0) {
        await publish(deps, rows);
        await tx.$executeRaw`
          UPDATE outbox_events SET published_at = now()
          WHERE id = ANY(${rows.map((r) => r.id)}::bigint[])`;
      }
      return {
        kind: "published",
        count: rows.length,
        lastId: rows.at(-1)?.id ?? null,
        full: rows.length === deps.batch,
        // Read after the UPDATE: this transaction already sees its own batch as published.
        lag: await oldestAge(tx),
      };
    },
    // A large batch on a slow Redis may take a while; a transaction that times out rolls back.
    { maxWait: 10_000, timeout: 60_000 },
  );
  // Every worker keeps the gauge current, the ones skipping the round too.
  deps.metrics.outboxLagSeconds.set(result.lag);
  if (result.kind === "skipped") return { kind: "skipped" };
  // Counted only once committed: a rolled-back round published nothing that stays marked.
  deps.metrics.outboxPublished.inc(result.count);
  return { kind: "published", count: result.count, lastId: result.lastId, full: result.full };
}

type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

/** Seconds since the oldest unpublished event was written; 0 when none waits. Uses the partial index. */
async function oldestAge(tx: Tx): Promise<number> {
  const [oldest] = await tx.$queryRaw<{ lag: number }[]>`
    SELECT GREATEST(0, extract(epoch FROM clock_timestamp() - created_at))::float8 AS lag
    FROM outbox_events WHERE published_at IS NULL ORDER BY id LIMIT 1`;
  return oldest?.lag ?? 0;
}

async function publish(deps: RelayDeps, rows: OutboxRow[]): Promise<void> {
  const stream = deps.keys.events();
  const pipeline = deps.redis.pipeline();
  for (const r of rows) {
    pipeline.xadd(
      stream,
      "MAXLEN",
      "~",
      deps.maxLen,
      "*",
      "id",
      r.id,
      "type",
      r.event_type,
      "couponId",
      r.aggregate_id,
      "payload",
      r.payload,
    );
  }
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
  if (replies.length !== rows.length) throw new Error(`XADD pipeline answered ${replies.length} of ${rows.length}`);
}

export interface OutboxRelay {
  /** Finishes the round in flight (its batch is committed or rolled back), then stops polling. */
  stop(): Promise<void>;
}

/** Runs rounds until stopped: again at once after a full batch, else after pollMs. */
export function startOutboxRelay(deps: RelayDeps & { pollMs: number }): OutboxRelay {
  let stopping = false;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = null;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = null;
        resolve();
      };
    });

  const loop = async (): Promise<void> => {
    while (!stopping) {
      let delay = deps.pollMs;
      try {
        const round = await relayOutboxRound(deps);
        if (round.kind === "published" && round.count > 0) {
          deps.log.debug({ count: round.count, lastId: round.lastId }, "relayed outbox events");
        }
        if (round.kind === "published" && round.full) delay = 0;
      } catch (err) {
        deps.metrics.outboxRelayErrors.inc();
        deps.log.error({ err }, "outbox relay round failed; its events stay unpublished and are retried");
        // Back off a little more than a poll so a Redis or PostgreSQL outage is not hammered.
        delay = Math.max(deps.pollMs, 1_000);
      }
      if (delay > 0 && !stopping) await sleep(delay);
    }
  };
  const running = loop();
  return {
    stop: async () => {
      stopping = true;
      wake?.();
      await running;
    },
  };
}
