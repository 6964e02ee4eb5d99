// Reconciliation: each ACTIVE FCFS/CODE policy's Redis counter against PostgreSQL.
//
// admitted should equal issued_count plus the admissions still pending. Drift is reported (gauge
// coupon_reconcile_drift and a warn log) and repaired where that is safe:
//   - Redis lost the policy: rebuilt from PostgreSQL (the same code the gateway uses);
//   - admitted too LOW: raised atomically (raiseAdmitted-3.lua) to a target that can only be at or
//     below the truth, so raising can never make Redis admit more than the stock;
//   - admitted too HIGH (stock leaked, e.g. an admission lost without its release): reported only.
//     Lowering on a reading taken while admissions commit could oversell; doing it safely needs
//     the policy row locked across the Redis write, stalling persistence; left to an operator.
import type { PrismaClient } from "@coupon/db/client";
import { rebuildPolicyFromPostgres } from "@coupon/policy-state";
import { raiseAdmitted, type KeySpace, type ScriptedClient } from "@coupon/redis";
import type { Logger, WorkerMetrics } from "@coupon/telemetry";

/** A policy with more pending admissions than this is checked but not repaired this round. */
const MAX_PENDING_CHECKED = 100_000;

export interface ReconcileDeps {
  prisma: PrismaClient;
  redis: ScriptedClient;
  keys: KeySpace;
  metrics: WorkerMetrics;
  log: Logger;
}

export interface ReconcileResult extends Record<string, number> {
  policies: number;
  rebuilt: number;
  raised: number;
  leaked: number;
}

export async function reconcilePolicies(deps: ReconcileDeps): Promise<ReconcileResult> {
  const { prisma, redis, keys, metrics, log } = deps;
  const result: ReconcileResult = { policies: 0, rebuilt: 0, raised: 0, leaked: 0 };
  const active = await prisma.couponPolicy.findMany({
    where: { status: "ACTIVE", issueType: { in: ["FCFS", "CODE"] } },
    select: { id: true },
  });
  // Policies no longer active drop out of the gauge.
  metrics.reconcileDrift.reset();
  let pendingTotal = 0;
  for (const { id } of active) {
    result.policies++;
    const policyId = id.toString();
    const k = keys.policy(policyId);
    if ((await redis.exists(k.meta)) === 0) {
      const outcome = await rebuildPolicyFromPostgres(prisma, redis, keys, id);
      if (outcome.found && outcome.rebuilt) {
        result.rebuilt++;
        log.warn({ policyId, issued: outcome.issued }, "reconciliation: Redis had lost the policy; rebuilt it from PostgreSQL");
      }
      metrics.reconcileDrift.set({ policy_id: policyId }, 0);
      continue;
    }
    // Order matters: pending first, then PostgreSQL in one snapshot, then the atomic repair
    // (see raiseAdmitted-3.lua for why the target cannot overshoot).
    const pending = await redis.hkeys(k.pending);
    pendingTotal += pending.length;
    if (pending.length > MAX_PENDING_CHECKED) {
      log.info({ policyId, pending: pending.length }, "reconciliation: too many pending admissions to check this round");
      continue;
    }
    const [row] = await prisma.$queryRaw<{ issued: number; recorded: string[] }[]>`
      SELECT p.issued_count AS issued,
             COALESCE((SELECT array_agg(r.id) FROM issue_requests r WHERE r.id = ANY(${pending}::text[])), '{}') AS recorded
      FROM coupon_policies p WHERE p.id = ${id}`;
    if (!row) continue;
    const recorded = new Set(row.recorded);
    const unrecorded = pending.filter((r) => !recorded.has(r));
    const checked = await raiseAdmitted(redis, keys, policyId, row.issued, unrecorded);
    if (!checked) continue; // lost between the two reads; the next round rebuilds it
    const drift = checked.before - checked.target;
    metrics.reconcileDrift.set({ policy_id: policyId }, drift);
    if (drift < 0) {
      result.raised++;
      log.warn({ policyId, admitted: checked.before, target: checked.target }, "reconciliation: admitted was below issued + pending; raised it");
    } else if (drift > 0) {
      result.leaked++;
      log.warn(
        { policyId, admitted: checked.before, accountedFor: checked.target, drift },
        "reconciliation: Redis admitted more than PostgreSQL and pending account for (stock held back, or admissions in flight during the check); not repaired",
      );
    }
  }
  metrics.pendingAdmissions.set(pendingTotal);
  return result;
}
