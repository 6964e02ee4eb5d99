// A coupon's move after issue, decided by PostgreSQL in ONE statement: lock the coupon only if it
// is in an allowed from-status (and holds the presented reservation, and has not expired), change
// it, and write its audit row and outbox event, all through data-modifying CTEs. Zero rows means
// refused and nothing written; readCouponSnapshot then tells why.
//
// The row is picked by SELECT ... FOR UPDATE rather than by the UPDATE's own WHERE so that the
// statement knows the coupon's state *before* the change (the refunded order, the released
// reservation, revoked vs refunded) as of the lock, not as of a snapshot a concurrent commit
// may have overtaken: a FOR UPDATE that waited re-checks its WHERE on the newest row and returns it.
import { COUPON_TRANSITIONS, type CouponAction, type CouponSnapshot, type CouponStatus } from "@coupon/domain";
import { Prisma, type PrismaClient } from "@coupon/db/client";
import type { CouponRecord } from "../services/policy-view.js";

export type TransitionInput =
  | { action: "reserve"; orderId: string; reservationId: string }
  | { action: "use"; reservationId: string }
  | { action: "release"; reservationId: string }
  | { action: "cancel"; reason: string; adminId: string };

export interface TransitionTarget {
  /** compact, canonical form */
  couponNumber: string;
  /** the owner the caller must be; null for an admin acting on anyone's coupon */
  userId: string | null;
  clientIp: string;
}

export interface TransitionedCoupon extends CouponRecord {
  id: bigint;
  userId: bigint;
}

interface Row {
  id: bigint;
  policy_id: bigint;
  user_id: bigint;
  coupon_number: string;
  status: CouponStatus;
  issued_at: Date;
  expires_at: Date;
  reserved_at: Date | null;
  used_at: Date | null;
  order_id: string | null;
  reservation_id: string | null;
}

// ISO-8601 UTC with milliseconds, as Date.prototype.toISOString writes it (the worker's events).
const ISO = Prisma.raw(`'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`);

/**
 * What each action sets (after the status, so each starts with a comma), what else it requires,
 * and what it records in the audit details and the event payload (columns of `upd`).
 */
function parts(input: TransitionInput) {
  switch (input.action) {
    case "reserve":
      return {
        set: Prisma.sql`, reserved_at = clock.at, order_id = ${input.orderId}, reservation_id = ${input.reservationId}`,
        require: Prisma.sql`AND c.expires_at > clock.at`,
        details: Prisma.sql`'orderId', upd.order_id, 'reservationId', upd.reservation_id`,
        payload: Prisma.sql`'orderId', upd.order_id, 'reservationId', upd.reservation_id`,
      };
    case "use":
      return {
        set: Prisma.sql`, used_at = clock.at`,
        require: Prisma.sql`AND c.reservation_id = ${input.reservationId}`,
        details: Prisma.sql`'orderId', upd.order_id, 'reservationId', upd.reservation_id`,
        payload: Prisma.sql`'orderId', upd.order_id, 'reservationId', upd.reservation_id`,
      };
    case "release":
      return {
        set: Prisma.sql`, reserved_at = NULL, order_id = NULL, reservation_id = NULL`,
        require: Prisma.sql`AND c.reservation_id = ${input.reservationId}`,
        details: Prisma.sql`'orderId', upd.from_order_id, 'reservationId', upd.from_reservation_id, 'reason', 'RELEASED'`,
        payload: Prisma.sql`'orderId', upd.from_order_id, 'reservationId', upd.from_reservation_id, 'reason', 'RELEASED'`,
      };
    case "cancel":
      return {
        set: Prisma.empty,
        require: Prisma.empty,
        details: Prisma.sql`'reason', ${input.reason}::text, 'from', upd.from_status,
          'kind', CASE upd.from_status WHEN 'USED' THEN 'REFUNDED' ELSE 'REVOKED' END,
          'orderId', upd.from_order_id, 'adminId', ${input.adminId}::text`,
        payload: Prisma.sql`'reason', ${input.reason}::text`,
      };
  }
}

/** Applies the action if the coupon allows it; null when it changed nothing. */
export async function transitionCoupon(
  prisma: PrismaClient,
  target: TransitionTarget,
  input: TransitionInput,
): Promise<TransitionedCoupon | null> {
  const t = COUPON_TRANSITIONS[input.action];
  const p = parts(input);
  const owner = target.userId === null ? Prisma.empty : Prisma.sql`AND c.user_id = ${target.userId}::bigint`;
  const rows = await prisma.$queryRaw<Row[]>`
    WITH clock AS (SELECT date_trunc('milliseconds', now()) AS at),
    cur AS (
      SELECT c.id, c.status::text AS status, c.order_id, c.reservation_id
      FROM coupon_issues c, clock
      WHERE c.coupon_number = ${target.couponNumber} ${owner}
        AND c.status = ANY(${[...t.from]}::"CouponStatus"[]) ${p.require}
      FOR UPDATE OF c
    ),
    upd AS (
      UPDATE coupon_issues c SET status = ${t.to}::"CouponStatus"${p.set}
      FROM cur, clock
      WHERE c.id = cur.id
      RETURNING c.id, c.policy_id, c.user_id, c.coupon_number, c.status::text AS status, c.issued_at, c.expires_at,
                c.reserved_at, c.used_at, c.order_id, c.reservation_id,
                cur.status AS from_status, cur.order_id AS from_order_id, cur.reservation_id AS from_reservation_id, clock.at
    ),
    aud AS (
      INSERT INTO coupon_audit (coupon_id, user_id, action, details, client_ip, created_at)
      SELECT upd.id, upd.user_id, ${t.audit}, jsonb_strip_nulls(jsonb_build_object(${p.details})), NULLIF(${target.clientIp}, ''), upd.at
      FROM upd
    ),
    evt AS (
      INSERT INTO outbox_events (event_type, aggregate_id, payload, created_at)
      SELECT ${t.event}, upd.id, jsonb_strip_nulls(jsonb_build_object(
               'type', ${t.event}::text, 'couponId', upd.id::text, 'couponNumber', upd.coupon_number,
               'policyId', upd.policy_id::text, 'userId', upd.user_id::text, 'status', upd.status,
               'occurredAt', to_char(upd.at AT TIME ZONE 'UTC', ${ISO}), ${p.payload})),
             upd.at
      FROM upd
    )
    SELECT id, policy_id, user_id, coupon_number, status, issued_at, expires_at, reserved_at, used_at, order_id, reservation_id
    FROM upd`;
  const row = rows[0];
  if (!row) return null;
  return {
    id: row.id,
    userId: row.user_id,
    policyId: row.policy_id,
    couponNumber: row.coupon_number,
    status: row.status,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    reservedAt: row.reserved_at,
    usedAt: row.used_at,
    orderId: row.order_id,
    reservationId: row.reservation_id,
  };
}

/** The one read after a refusal; null when there is no such coupon or it is not `userId`'s. */
export async function readCouponSnapshot(
  prisma: PrismaClient,
  couponNumber: string,
  userId: string | null,
): Promise<CouponSnapshot | null> {
  const owner = userId === null ? Prisma.empty : Prisma.sql`AND user_id = ${userId}::bigint`;
  const [row] = await prisma.$queryRaw<{ status: CouponStatus; reservation_id: string | null; past_expiry: boolean }[]>`
    SELECT status::text AS status, reservation_id, expires_at <= now() AS past_expiry
    FROM coupon_issues WHERE coupon_number = ${couponNumber} ${owner}`;
  return row ? { status: row.status, pastExpiry: row.past_expiry, reservationId: row.reservation_id } : null;
}
