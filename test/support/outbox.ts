// Writes outbox rows directly, as the coupon transitions would, for relay tests that need a
// backlog of a given shape. Coupons take turns, so one coupon's events are spread through the ids.
import type { PrismaClient } from "@coupon/db/client";

/** Inserts `count` committed events over `coupons` coupons (ids firstCoupon…); returns their ids in order. */
export async function insertOutboxEvents(
  prisma: PrismaClient,
  count: number,
  coupons: number,
  firstCoupon = 1_000_000,
): Promise<bigint[]> {
  // A coupon's k-th event: issued first, then reserved and released in turn.
  const rows = await prisma.$queryRaw<{ id: bigint }[]>`
    WITH g AS (
      SELECT n, ${firstCoupon}::bigint + (n % ${coupons}::int) AS coupon,
             CASE WHEN n / ${coupons}::int = 0 THEN 'CouponIssued'
                  WHEN (n / ${coupons}::int) % 2 = 1 THEN 'CouponReserved'
                  ELSE 'CouponReleased' END AS type
      FROM generate_series(0, ${count - 1}::int) AS n
    )
    INSERT INTO outbox_events (event_type, aggregate_id, payload)
    SELECT type, coupon, jsonb_build_object(
             'type', type, 'couponId', coupon::text, 'couponNumber', 'ABCDEF-GHJKMN-PQRSTU',
             'policyId', '1', 'userId', (10000 + n % ${coupons}::int)::text,
             'status', CASE type WHEN 'CouponReserved' THEN 'RESERVED' ELSE 'ISSUED' END,
             'occurredAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
    FROM g ORDER BY n
    RETURNING id`;
  return rows.map((r) => r.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
