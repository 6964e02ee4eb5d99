// Asks DIRECT batches to stop: a queued one is cancelled at once, a running one stops between
// chunks (its worker reads cancel_requested) and ends CANCELLED. One statement for the admin's
// cancel of one batch and for a policy that ends with batches still to do.
import { Prisma, type PrismaClient } from "@coupon/db/client";

type Db = Pick<PrismaClient, "$queryRaw">;

/** Ids of the batches that were still QUEUED or RUNNING and are now asked to stop. */
export async function requestBatchCancel(db: Db, which: { batchId: bigint } | { policyId: bigint }): Promise<bigint[]> {
  const where = "batchId" in which ? Prisma.sql`id = ${which.batchId}` : Prisma.sql`policy_id = ${which.policyId}`;
  const rows = await db.$queryRaw<{ id: bigint }[]>`
    UPDATE direct_batches SET cancel_requested = true,
      state = CASE WHEN state = 'QUEUED' THEN 'CANCELLED'::"DirectBatchState" ELSE state END,
      finished_at = CASE WHEN state = 'QUEUED' THEN now() ELSE finished_at END
    WHERE ${where} AND state IN ('QUEUED', 'RUNNING')
    RETURNING id`;
  return rows.map((r) => r.id);
}
