// RESERVED coupons whose order never completed go back to ISSUED after the timeout, one bounded
// batch per statement, with their audit rows (RELEASED, reason TIMEOUT) and CouponReleased events
// in the same statement. The order and reservation ids are read in `due`, under the row lock,
// because UPDATE ... RETURNING only sees the cleared values. Rows are found again by ctid, as in
// expire-coupons.ts.
import type { PrismaClient } from "@coupon/db/client";

export async function releaseStaleBatch(prisma: PrismaClient, timeoutMs: number, limit: number): Promise<string[]> {
  const now = new Date();
  const cutoff = new Date(now.getTime() - timeoutMs);
  const rows = await prisma.$queryRaw<{ user_id: bigint }[]>`
    WITH due AS (
      SELECT ctid AS tid, id, order_id, reservation_id FROM coupon_issues
      WHERE status = 'RESERVED' AND reserved_at <= ${cutoff}
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ),
    upd AS (
      UPDATE coupon_issues c SET status = 'ISSUED', reserved_at = NULL, order_id = NULL, reservation_id = NULL
      WHERE c.ctid = ANY(ARRAY(SELECT tid FROM due)) AND c.status = 'RESERVED'
      RETURNING c.id, c.policy_id, c.user_id, c.coupon_number
    ),
    rel AS (SELECT upd.*, due.order_id, due.reservation_id FROM upd JOIN due USING (id)),
    audit AS (
      INSERT INTO coupon_audit (coupon_id, user_id, action, details, created_at)
      SELECT id, user_id, 'RELEASED',
             jsonb_strip_nulls(jsonb_build_object('reason', 'TIMEOUT', 'orderId', order_id, 'reservationId', reservation_id)),
             ${now}
      FROM rel
    ),
    evt AS (
      INSERT INTO outbox_events (event_type, aggregate_id, payload, created_at)
      SELECT 'CouponReleased', id, jsonb_strip_nulls(jsonb_build_object(
               'type', 'CouponReleased', 'couponId', id::text, 'couponNumber', coupon_number,
               'policyId', policy_id::text, 'userId', user_id::text, 'status', 'ISSUED',
               'occurredAt', ${now.toISOString()}::text, 'orderId', order_id,
               'reservationId', reservation_id, 'reason', 'TIMEOUT')),
             ${now}
      FROM rel
    )
    SELECT user_id FROM upd`;
  return rows.map((r) => r.user_id.toString());
}
