// A policy's issuing rules and counts in Redis: written when PostgreSQL commits a policy,
// rebuilt from PostgreSQL when Redis lost them.
import type { IssueType, PolicyStatus } from "@coupon/domain";
import type { KeySpace } from "./keys.js";
import { publishPolicyChanged } from "./policy-events.js";
import type { RedisClient, ScriptedClient } from "./scripts.js";

export interface PolicyRules {
  id: string;
  issueType: IssueType;
  status: PolicyStatus;
  issueStartAt: Date;
  issueEndAt: Date;
  totalQuantity: number | null;
  perUserLimit: number;
  /** lower-cased code, CODE policies only */
  codeKey: string | null;
}

function ruleArgs(p: PolicyRules): string[] {
  return [
    p.issueType,
    p.status,
    String(p.issueStartAt.getTime()),
    String(p.issueEndAt.getTime()),
    String(p.totalQuantity ?? -1),
    String(p.perUserLimit),
  ];
}

async function indexPolicy(redis: RedisClient, keys: KeySpace, p: PolicyRules): Promise<void> {
  await redis.sadd(keys.policies(), p.id);
  if (p.codeKey) await redis.hset(keys.codes(), p.codeKey, p.id);
}

/**
 * Writes the rules. Returns false when an update finds the policy missing from Redis: the
 * caller must rebuild it from PostgreSQL (see rebuildPolicyState).
 */
export async function syncPolicyRules(
  redis: ScriptedClient,
  keys: KeySpace,
  p: PolicyRules,
  mode: "create" | "update",
): Promise<boolean> {
  const k = keys.policy(p.id);
  const written = Number(await redis.syncPolicy(k.meta, k.admitted, mode, ...ruleArgs(p))) === 1;
  if (written) {
    await indexPolicy(redis, keys, p);
    if (mode === "update") await publishPolicyChanged(redis, keys, p.id);
  }
  return written;
}

export interface PersistedCounts {
  /** coupons of the policy in PostgreSQL, whatever their status */
  issued: number;
  /** userId -> coupons held, and the request that gave each user their first */
  holders: Iterable<{ userId: string; count: number; firstRequestId: string | null }>;
}

/** Rebuilds a policy that Redis lost. Returns false when Redis already held it (nothing changed). */
export async function rebuildPolicyState(
  redis: ScriptedClient,
  keys: KeySpace,
  p: PolicyRules,
  counts: PersistedCounts,
): Promise<boolean> {
  const k = keys.policy(p.id);
  const staging = k.staging(crypto.randomUUID());
  let batch: string[] = [];
  let firsts: string[] = [];
  const flush = async () => {
    if (batch.length) await redis.hset(staging.counts, ...batch);
    if (firsts.length) await redis.hset(staging.first, ...firsts);
    batch = [];
    firsts = [];
  };
  for (const h of counts.holders) {
    batch.push(h.userId, String(h.count));
    if (h.firstRequestId) firsts.push(h.userId, h.firstRequestId);
    if (batch.length >= 2000) await flush();
  }
  await flush();
  const rebuilt =
    Number(
      await redis.rebuildPolicy(
        k.meta,
        k.admitted,
        k.counts,
        k.first,
        staging.counts,
        staging.first,
        ...ruleArgs(p),
        String(counts.issued),
      ),
    ) === 1;
  await indexPolicy(redis, keys, p);
  if (rebuilt) await publishPolicyChanged(redis, keys, p.id);
  return rebuilt;
}

/** Admissions holding stock, or null when Redis does not hold the policy. */
export async function admittedCount(redis: RedisClient, keys: KeySpace, policyId: string): Promise<number | null> {
  const v = await redis.get(keys.policy(policyId).admitted);
  return v === null ? null : Number(v);
}

export async function policyIdForCode(redis: RedisClient, keys: KeySpace, codeKey: string): Promise<string | null> {
  return redis.hget(keys.codes(), codeKey);
}

export async function watchedPolicyIds(redis: RedisClient, keys: KeySpace): Promise<string[]> {
  return redis.smembers(keys.policies());
}

/**
 * Reconciliation's repair: admitted becomes at least `issued` plus those of `unrecorded` still
 * pending (see raiseAdmitted-3.lua). Null when Redis does not hold the policy.
 */
export async function raiseAdmitted(
  redis: ScriptedClient,
  keys: KeySpace,
  policyId: string,
  issued: number,
  unrecorded: string[],
): Promise<{ before: number; target: number } | null> {
  const k = keys.policy(policyId);
  const [before, target] = (await redis.raiseAdmitted(k.meta, k.admitted, k.pending, issued, ...unrecorded)) as [number, number];
  if (before === -1) return null;
  return { before: Number(before), target: Number(target) };
}
