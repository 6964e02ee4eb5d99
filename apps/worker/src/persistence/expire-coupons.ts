// ISSUED coupons past their expiry become EXPIRED, one bounded batch per statement. Each batch
// changes the coupons, writes their audit rows and CouponExpired events in ONE statement (so in
// one transaction), and locks only the rows it takes: SKIP LOCKED lets a coupon being reserved
// or used right now wait for the next batch instead of blocking either side. Nothing is deleted.
// The (status, expires_at) index hands the due rows over in expiry order (see the EXPLAIN test),
// and the UPDATE finds them again by ctid (stable: `due` holds their row locks) in one TID scan;
// `UPDATE ... FROM due WHERE c.id = due.id` let the planner merge-join (or hash-join) against
// the whole table, batch after batch, which made a large expiry quadratic.
import type { PrismaClient } from "@coupon/db/client";

export async function expireBatch(prisma: PrismaClient, limit: number): Promise<string[]> {
  const now = new Date();
  const rows = await prisma.$queryRaw<{ user_id: bigint }[]>`
    WITH due AS (
      SELECT ctid AS tid, id FROM coupon_issues
      WHERE status = 'ISSUED' AND expires_at <= ${now}
      ORDER BY expires_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ),
    upd AS (
      UPDATE coupon_issues c SET status = 'EXPIRED'
      WHERE c.ctid = ANY(ARRAY(SELECT tid FROM due)) AND c.status = 'ISSUED'
      RETURNING c.id, c.policy_id, c.user_id, c.coupon_number, c.expires_at
    ),
    audit AS (
      INSERT INTO coupon_audit (coupon_id, user_id, action, details, created_at)
      SELECT id, user_id, 'EXPIRED',
             jsonb_build_object('policyId', policy_id::text, 'expiresAt', to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
             ${now}
      FROM upd
    ),
    evt AS (
      INSERT INTO outbox_events (event_type, aggregate_id, payload, created_at)
      SELECT 'CouponExpired', id, jsonb_build_object(
               'type', 'CouponExpired', 'couponId', id::text, 'couponNumber', coupon_number,
               'policyId', policy_id::text, 'userId', user_id::text, 'status', 'EXPIRED',
               'occurredAt', ${now.toISOString()}::text,
               'expiresAt', to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
             ${now}
      FROM upd
    )
    SELECT user_id FROM upd`;
  return rows.map((r) => r.user_id.toString());
}
