// A policy's Redis state rebuilt from PostgreSQL: what the gateway does when a request finds the
// policy missing, what the admin rebuild command does, and what reconciliation does when it finds
// Redis lost a policy. One implementation, so all three count holders the same way.
import { codeKey } from "@coupon/domain";
import type { CouponPolicy, PrismaClient } from "@coupon/db/client";
import { rebuildPolicyState, type KeySpace, type PolicyRules, type ScriptedClient } from "@coupon/redis";

export type RebuildOutcome =
  | { found: false }
  /** rebuilt: false when Redis already held the policy and nothing was written */
  | { found: true; rebuilt: boolean; issued: number; policy: CouponPolicy };

/** Reads the policy and its holders from PostgreSQL and swaps them into Redis if Redis lost them. */
export async function rebuildPolicyFromPostgres(
  prisma: PrismaClient,
  redis: ScriptedClient,
  keys: KeySpace,
  policyId: bigint,
): Promise<RebuildOutcome> {
  const policy = await prisma.couponPolicy.findUnique({ where: { id: policyId } });
  if (!policy) return { found: false };
  // Every coupon counts, whatever its status: an expired or used coupon still took its stock and
  // its holder's slot.
  const holders = await prisma.$queryRaw<{ user_id: bigint; n: number; first: string | null }[]>`
    SELECT user_id, count(*)::int AS n, (array_agg(request_id ORDER BY user_slot))[1] AS first
    FROM coupon_issues WHERE policy_id = ${policy.id} GROUP BY user_id`;
  const issued = holders.reduce((sum, h) => sum + h.n, 0);
  const rebuilt = await rebuildPolicyState(redis, keys, rulesOf(policy), {
    issued,
    holders: holders.map((h) => ({ userId: h.user_id.toString(), count: h.n, firstRequestId: h.first })),
  });
  return { found: true, rebuilt, issued, policy };
}

/** The issuing rules Redis holds for a policy row. */
export function rulesOf(p: CouponPolicy): PolicyRules {
  return {
    id: p.id.toString(),
    issueType: p.issueType as PolicyRules["issueType"],
    status: p.status as PolicyRules["status"],
    issueStartAt: p.issueStartAt,
    issueEndAt: p.issueEndAt,
    totalQuantity: p.totalQuantity,
    perUserLimit: p.perUserLimit,
    codeKey: p.code ? codeKey(p.code) : null,
  };
}
