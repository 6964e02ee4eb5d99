// Issues one chunk of a DIRECT batch in ONE PostgreSQL transaction: claim the chunk (SKIP LOCKED,
// so two workers never hold the same chunk), take its units in Redis first (reserveDirect-5.lua,
// idempotent per chunk), lock the policy row for an exact count of the room left, insert the
// coupons with their audit rows and CouponIssued outbox events, record the failures, mark the
// chunk done and bump the batch's counters. A crash anywhere before the commit redoes the chunk
// whole; after it, the chunk is done and never issued again.
import { couponExpiry, generateCouponNumber, type DirectFailureReason } from "@coupon/domain";
import type { PrismaClient } from "@coupon/db/client";
import { reserveDirectChunk, type KeySpace, type ScriptedClient } from "@coupon/redis";
import { couponIssuedPayload } from "./coupon-issued-event.js";

export interface ChunkOutcome {
  chunkNo: number;
  /** users who got a coupon in this chunk */
  issued: string[];
  /** users whose unit the chunk took in Redis but did not use: give them back after the commit */
  unused: string[];
  failures: Map<DirectFailureReason, number>;
  /** the batch as the commit left it */
  processed: number;
  totalRequested: number;
  cancelRequested: boolean;
}

export type ChunkResult =
  | { kind: "issued"; outcome: ChunkOutcome }
  | { kind: "no-chunk-left" }
  /** Redis does not hold the policy: rebuild it from PostgreSQL, then call again */
  | { kind: "policy-not-in-redis" }
  | { kind: "policy-not-found" };

interface PolicyRow {
  total_quantity: number | null;
  issued_count: number;
  valid_days: number | null;
  valid_until: Date | null;
}

class Rollback extends Error {
  constructor(readonly result: ChunkResult) {
    super(result.kind);
  }
}

export async function issueDirectChunk(
  prisma: PrismaClient,
  redis: ScriptedClient,
  keys: KeySpace,
  batchId: string,
  policyId: string,
): Promise<ChunkResult> {
  try {
    return await prisma.$transaction(
      async (tx) => {
        const [chunk] = await tx.$queryRaw<{ chunk_no: number; user_ids: string[] }[]>`
          SELECT chunk_no, user_ids::text[] AS user_ids FROM direct_batch_chunks
          WHERE batch_id = ${batchId}::bigint AND NOT done
          ORDER BY chunk_no LIMIT 1 FOR UPDATE SKIP LOCKED`;
        if (!chunk) return { kind: "no-chunk-left" } as const;
        const users = chunk.user_ids;

        const reservation = await reserveDirectChunk(redis, keys, policyId, batchId, chunk.chunk_no, users);
        if (!reservation) throw new Rollback({ kind: "policy-not-in-redis" });

        // The row lock orders this chunk with FCFS persistence of the same policy, so the room
        // computed here is exact; Redis already kept the stock, this is the second guard.
        const [policy] = await tx.$queryRaw<PolicyRow[]>`
          SELECT total_quantity, issued_count, valid_days, valid_until
          FROM coupon_policies WHERE id = ${policyId}::bigint FOR UPDATE`;
        if (!policy) throw new Rollback({ kind: "policy-not-found" });
        let room = policy.total_quantity === null ? Number.POSITIVE_INFINITY : policy.total_quantity - policy.issued_count;

        const failures: { userId: string; reason: DirectFailureReason }[] = [];
        const unused: string[] = [];
        const candidates: { userId: string; slot: number }[] = [];
        users.forEach((userId, i) => {
          const r = reservation[i]!;
          if ("refused" in r) failures.push({ userId, reason: r.refused });
          else if (room > 0) {
            room--;
            candidates.push({ userId, slot: r.slot });
          } else {
            failures.push({ userId, reason: "SOLD_OUT" });
            unused.push(userId);
          }
        });

        const now = new Date();
        const expiresAt = couponExpiry({ validDays: policy.valid_days, validUntil: policy.valid_until }, now);
        const inserted =
          candidates.length === 0
            ? []
            : await tx.$queryRaw<{ user_id: string }[]>`
          WITH ins AS (
            INSERT INTO coupon_issues (policy_id, user_id, user_slot, coupon_number, status, issued_at, expires_at)
            SELECT ${policyId}::bigint, user_id, user_slot, coupon_number, 'ISSUED'::"CouponStatus", ${now}, ${expiresAt}
            FROM unnest(
              ${candidates.map((c) => c.userId)}::bigint[],
              ${candidates.map((c) => c.slot)}::int[],
              ${candidates.map(() => generateCouponNumber())}::text[]
            ) AS t(user_id, user_slot, coupon_number)
            -- Only the per-user key may refuse a row (the user already holds it): a coupon-number
            -- collision raises, rolls the chunk back, and the redo draws new numbers.
            ON CONFLICT (policy_id, user_id, user_slot) DO NOTHING
            RETURNING id, user_id, coupon_number
          ),
          aud AS (
            INSERT INTO coupon_audit (coupon_id, user_id, action, details, created_at)
            SELECT id, user_id, 'ISSUED', jsonb_build_object('batchId', ${batchId}::text, 'policyId', ${policyId}::text), ${now}
            FROM ins
          ),
          evt AS (
            INSERT INTO outbox_events (event_type, aggregate_id, payload, created_at)
            SELECT 'CouponIssued', id, ${couponIssuedPayload({ policyId, now, expiresAt, withRequestId: false })}, ${now}
            FROM ins
          ),
          upd AS (
            UPDATE coupon_policies SET issued_count = issued_count + (SELECT count(*) FROM ins)::int, updated_at = ${now}
            WHERE id = ${policyId}::bigint
          )
          SELECT user_id::text AS user_id FROM ins`;
        const issued = new Set(inserted.map((r) => r.user_id));
        for (const c of candidates) {
          if (!issued.has(c.userId)) {
            failures.push({ userId: c.userId, reason: "ALREADY_ISSUED" });
            unused.push(c.userId);
          }
        }

        const [batch] = await tx.$queryRaw<{ processed: number; total_requested: number; cancel_requested: boolean }[]>`
          WITH f AS (
            INSERT INTO direct_batch_failures (batch_id, user_id, reason)
            SELECT ${batchId}::bigint, u, r
            FROM unnest(${failures.map((f) => f.userId)}::text[], ${failures.map((f) => f.reason)}::text[]) WITH ORDINALITY AS t(u, r, n)
            ORDER BY n
          ),
          c AS (
            UPDATE direct_batch_chunks SET done = true
            WHERE batch_id = ${batchId}::bigint AND chunk_no = ${chunk.chunk_no}
          )
          UPDATE direct_batches SET
            processed = processed + ${users.length}::int,
            success_count = success_count + ${issued.size}::int,
            failure_count = failure_count + ${failures.length}::int
          WHERE id = ${batchId}::bigint
          RETURNING processed, total_requested, cancel_requested`;
        if (!batch) throw new Error(`batch ${batchId} vanished`);

        const counts = new Map<DirectFailureReason, number>();
        for (const f of failures) counts.set(f.reason, (counts.get(f.reason) ?? 0) + 1);
        return {
          kind: "issued",
          outcome: {
            chunkNo: chunk.chunk_no,
            issued: [...issued],
            unused,
            failures: counts,
            processed: batch.processed,
            totalRequested: batch.total_requested,
            cancelRequested: batch.cancel_requested,
          },
        } as const;
      },
      { maxWait: 30_000, timeout: 120_000 },
    );
  } catch (err) {
    if (err instanceof Rollback) return err.result;
    throw err;
  }
}
