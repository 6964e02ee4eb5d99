// Records one policy's admitted requests in PostgreSQL: coupons, their request rows, audit rows
// and CouponIssued outbox events, atomically. Idempotent: a request already recorded is reported
// with its earlier outcome and written again nowhere.
//
// Two paths. The fast one is a single statement: Redis already decided who wins, so it inserts
// everything and bumps issued_count, letting batches of one policy run side by side. Anything
// unusual (a user PostgreSQL already serves, a full policy, an unknown policy, a concurrent
// duplicate) sends the batch to the careful path, a transaction that locks the policy row first
// and decides each request on what is committed.
import { couponExpiry, generateCouponNumber, type FailureReason } from "@coupon/domain";
import { Prisma, type PrismaClient } from "@coupon/db/client";
import type { AdmissionRecord } from "@coupon/queue";
import { couponIssuedPayload } from "./coupon-issued-event.js";

export type Outcome =
  | { requestId: string; userId: string; status: "ISSUED"; admittedAt: number }
  | { requestId: string; userId: string; status: "FAILED"; reason: FailureReason; admittedAt: number };

export interface PersistResult {
  /** what happened to each admission, in this call or an earlier one */
  outcomes: Outcome[];
  /** coupons inserted by this call */
  inserted: number;
}

interface PolicyRow {
  total_quantity: number | null;
  issued_count: number;
  valid_days: number | null;
  valid_until: Date | null;
}

/** What a coupon's expiry depends on; fixed for the life of a policy. */
export interface Validity {
  validDays: number | null;
  validUntil: Date | null;
}

type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];
type Db = PrismaClient | Tx;

const MAX_NUMBER_RETRIES = 3;

/**
 * How long the careful path waits for its policy row. A batch of the same policy holds it for
 * one transaction (milliseconds); anything longer is a stuck session, and the job is better
 * retried (BullMQ's backoff) than left holding a worker slot and a connection behind it.
 */
export const POLICY_LOCK_TIMEOUT_MS = 5_000;

/** Told whether the careful path got its policy row lock (the design's lock failure rate). */
export type LockObserver = (outcome: "acquired" | "failed") => void;

export async function persistAdmissions(
  prisma: PrismaClient,
  policyId: string,
  admissions: AdmissionRecord[],
  validity?: Validity,
  onLock?: LockObserver,
  lockTimeoutMs = POLICY_LOCK_TIMEOUT_MS,
): Promise<PersistResult> {
  if (validity) {
    // Any error here (the CHECK on issued_count, an unknown policy) rolled the statement back whole.
    const fast = await persistFast(prisma, policyId, admissions, validity).catch(() => null);
    if (fast) return fast;
  }
  return persistCarefully(prisma, policyId, admissions, onLock, lockTimeoutMs);
}

/** One statement; null when the batch needs the careful path (nothing of it stays half-done). */
async function persistFast(
  prisma: PrismaClient,
  policyId: string,
  admissions: AdmissionRecord[],
  validity: Validity,
): Promise<PersistResult | null> {
  const now = new Date();
  const expiresAt = couponExpiry(validity, now);
  const rows = await prisma.$queryRaw<{ request_id: string; status: "ISSUED" | "FAILED"; reason: string | null; fresh: boolean }[]>`
    ${insertCouponsCte(policyId, admissions, now, expiresAt)},
    upd AS (
      UPDATE coupon_policies SET issued_count = issued_count + (SELECT count(*) FROM ins)::int, updated_at = ${now}
      WHERE id = ${policyId}::bigint
    )
    SELECT request_id, 'ISSUED' AS status, NULL AS reason, true AS fresh FROM ins
    UNION ALL
    SELECT r.id, r.status::text, r.reason, false
    FROM unnest(${admissions.map((a) => a.requestId)}::text[]) AS x(id) JOIN issue_requests r ON r.id = x.id`;
  if (rows.length !== admissions.length) return null;
  const byId = new Map(rows.map((r) => [r.request_id, r]));
  const outcomes: Outcome[] = [];
  for (const a of admissions) {
    const r = byId.get(a.requestId);
    if (!r) return null;
    outcomes.push(r.status === "ISSUED" ? issued(a) : failed(a, (r.reason ?? "INVALID_REQUEST") as FailureReason));
  }
  return { inserted: rows.filter((r) => r.fresh).length, outcomes };
}

async function persistCarefully(
  prisma: PrismaClient,
  policyId: string,
  admissions: AdmissionRecord[],
  onLock: LockObserver | undefined,
  lockTimeoutMs: number,
): Promise<PersistResult> {
  let locked = false;
  // A transaction that never got its lock (no connection within maxWait, a lock or statement
  // timeout, a deadlock) is a lock failure; one that fails later is not.
  return prisma.$transaction(
    async (tx) => {
      // The row lock orders concurrent batches of one policy, so the count check below is exact.
      await tx.$executeRaw`SELECT set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`;
      const [policy] = await tx.$queryRaw<PolicyRow[]>`
        SELECT total_quantity, issued_count, valid_days, valid_until
        FROM coupon_policies WHERE id = ${policyId}::bigint FOR UPDATE`;
      locked = true;
      onLock?.("acquired");
      if (!policy) {
        return {
          inserted: 0,
          outcomes: admissions.map((a) => failed(a, "POLICY_NOT_FOUND")),
        };
      }

      const outcomes: Outcome[] = [];
      const earlier = await tx.$queryRaw<{ id: string; status: "ISSUED" | "FAILED"; reason: string | null }[]>`
        SELECT r.id, r.status::text AS status, r.reason
        FROM unnest(${admissions.map((a) => a.requestId)}::text[]) AS x(id) JOIN issue_requests r ON r.id = x.id`;
      const seen = new Map(earlier.map((r) => [r.id, r]));
      const fresh: AdmissionRecord[] = [];
      for (const a of admissions) {
        const r = seen.get(a.requestId);
        if (!r) fresh.push(a);
        else if (r.status === "ISSUED") outcomes.push(issued(a));
        else outcomes.push(failed(a, (r.reason ?? "INVALID_REQUEST") as FailureReason));
      }
      if (fresh.length === 0) return { inserted: 0, outcomes };

      fresh.sort((x, y) => x.admittedAt - y.admittedAt);
      const room =
        policy.total_quantity === null ? fresh.length : Math.max(0, policy.total_quantity - policy.issued_count);
      const soldOut = fresh.slice(room);
      let todo = fresh.slice(0, room);
      const now = new Date();
      const expiresAt = couponExpiry({ validDays: policy.valid_days, validUntil: policy.valid_until }, now);
      const failures: Outcome[] = soldOut.map((a) => failed(a, "SOLD_OUT"));
      let inserted = 0;

      for (let attempt = 0; todo.length > 0 && attempt < MAX_NUMBER_RETRIES; attempt++) {
        const done = new Set(await insertCoupons(tx, policyId, todo, now, expiresAt));
        inserted += done.size;
        for (const a of todo) if (done.has(a.requestId)) outcomes.push(issued(a));
        const missed = todo.filter((a) => !done.has(a.requestId));
        todo = [];
        if (missed.length === 0) break;
        // A row that did not go in hit (policy, user, slot): the user already holds that coupon.
        // Anything else was a coupon-number collision, which a new number fixes.
        const held = await tx.$queryRaw<{ user_id: bigint; user_slot: number }[]>`
          SELECT user_id, user_slot FROM coupon_issues
          WHERE policy_id = ${policyId}::bigint AND user_id = ANY(${missed.map((a) => a.userId)}::bigint[])`;
        const heldKeys = new Set(held.map((h) => `${h.user_id}:${h.user_slot}`));
        for (const a of missed) {
          if (heldKeys.has(`${a.userId}:${a.slot}`)) failures.push(failed(a, "ALREADY_ISSUED"));
          else todo.push(a);
        }
      }
      if (todo.length > 0) throw new Error(`could not draw unique coupon numbers for ${todo.length} requests`);

      if (failures.length > 0) await recordFailures(tx, policyId, failures, now);
      if (inserted > 0) {
        await tx.$executeRaw`
          UPDATE coupon_policies SET issued_count = issued_count + ${inserted}::int, updated_at = ${now}
          WHERE id = ${policyId}::bigint`;
      }
      return { inserted, outcomes: [...outcomes, ...failures] };
    },
    { maxWait: 30_000, timeout: 60_000 },
  ).catch((err: unknown) => {
    if (!locked) onLock?.("failed");
    throw err;
  });
}

/** Inserts coupons with their request, audit and outbox rows; returns the requestIds that went in. */
async function insertCoupons(
  db: Db,
  policyId: string,
  rows: AdmissionRecord[],
  now: Date,
  expiresAt: Date,
): Promise<string[]> {
  const inserted = await db.$queryRaw<{ request_id: string }[]>`
    ${insertCouponsCte(policyId, rows, now, expiresAt)}
    SELECT request_id FROM ins`;
  return inserted.map((r) => r.request_id);
}

/**
 * The WITH clause both paths share: `ins` holds the coupons inserted. Requests PostgreSQL has
 * already recorded (issued or failed) are left out, so a failed request never gets a coupon later.
 */
function insertCouponsCte(policyId: string, rows: AdmissionRecord[], now: Date, expiresAt: Date): Prisma.Sql {
  return Prisma.sql`
    WITH input AS (
      SELECT * FROM unnest(
        ${rows.map((a) => a.requestId)}::text[],
        ${rows.map((a) => a.userId)}::bigint[],
        ${rows.map((a) => a.slot)}::int[],
        ${rows.map(() => generateCouponNumber())}::text[],
        ${rows.map((a) => new Date(a.admittedAt).toISOString())}::timestamptz[],
        ${rows.map((a) => a.clientIp)}::text[]
      ) AS t(request_id, user_id, user_slot, coupon_number, admitted_at, client_ip)
      WHERE NOT EXISTS (SELECT 1 FROM issue_requests r WHERE r.id = t.request_id)
    ),
    ins AS (
      INSERT INTO coupon_issues (policy_id, user_id, user_slot, coupon_number, request_id, status, issued_at, expires_at)
      SELECT ${policyId}::bigint, user_id, user_slot, coupon_number, request_id, 'ISSUED'::"CouponStatus", ${now}, ${expiresAt}
      FROM input
      ON CONFLICT DO NOTHING
      RETURNING id, request_id, user_id, coupon_number
    ),
    joined AS (SELECT ins.*, input.admitted_at, input.client_ip FROM ins JOIN input USING (request_id)),
    req AS (
      INSERT INTO issue_requests (id, policy_id, user_id, status, coupon_id, admitted_at, completed_at)
      SELECT request_id, ${policyId}::bigint, user_id, 'ISSUED'::"IssueRequestStatus", id, admitted_at, ${now} FROM joined
    ),
    aud AS (
      INSERT INTO coupon_audit (coupon_id, user_id, action, details, client_ip, created_at)
      SELECT id, user_id, 'ISSUED', jsonb_build_object('requestId', request_id, 'policyId', ${policyId}::text),
             NULLIF(client_ip, ''), ${now}
      FROM joined
    ),
    evt AS (
      INSERT INTO outbox_events (event_type, aggregate_id, payload, created_at)
      SELECT 'CouponIssued', id, ${couponIssuedPayload({ policyId, now, expiresAt, withRequestId: true })}, ${now}
      FROM joined
    )`;
}

async function recordFailures(tx: Tx, policyId: string, failures: Outcome[], now: Date): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO issue_requests (id, policy_id, user_id, status, reason, admitted_at, completed_at)
    SELECT id, ${policyId}::bigint, user_id, 'FAILED'::"IssueRequestStatus", reason, admitted_at, ${now}
    FROM unnest(
      ${failures.map((f) => f.requestId)}::text[],
      ${failures.map((f) => f.userId)}::bigint[],
      ${failures.map((f) => (f.status === "FAILED" ? f.reason : ""))}::text[],
      ${failures.map((f) => new Date(f.admittedAt).toISOString())}::timestamptz[]
    ) AS t(id, user_id, reason, admitted_at)
    ON CONFLICT (id) DO NOTHING`;
}

function issued(a: AdmissionRecord): Outcome {
  return { requestId: a.requestId, userId: a.userId, status: "ISSUED", admittedAt: a.admittedAt };
}

function failed(a: AdmissionRecord, reason: FailureReason): Outcome {
  return { requestId: a.requestId, userId: a.userId, status: "FAILED", reason, admittedAt: a.admittedAt };
}
