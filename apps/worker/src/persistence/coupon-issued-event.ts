// The CouponIssued payload (packages/domain/src/events.ts), built in SQL from the columns of the
// rows just inserted: `id`, `coupon_number`, `user_id` and, for FCFS/CODE, `request_id`. Both ways
// of issuing (admissions and DIRECT batches) write it through here so the event has one shape.
import { Prisma } from "@coupon/db/client";

export function couponIssuedPayload(p: { policyId: string; now: Date; expiresAt: Date; withRequestId: boolean }): Prisma.Sql {
  const request = p.withRequestId ? Prisma.sql`, 'requestId', request_id` : Prisma.empty;
  return Prisma.sql`jsonb_build_object(
    'type', 'CouponIssued', 'couponId', id::text, 'couponNumber', coupon_number,
    'policyId', ${p.policyId}::text, 'userId', user_id::text, 'status', 'ISSUED',
    'occurredAt', ${p.now.toISOString()}::text, 'expiresAt', ${p.expiresAt.toISOString()}::text${request})`;
}
