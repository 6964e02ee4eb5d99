// Rules of a coupon policy that hold whatever stores it.

export const ISSUE_TYPES = ["FCFS", "CODE", "DIRECT"] as const;
export type IssueType = (typeof ISSUE_TYPES)[number];
export const POLICY_STATUSES = ["ACTIVE", "PAUSED", "ENDED"] as const;
export type PolicyStatus = (typeof POLICY_STATUSES)[number];
export const DISCOUNT_TYPES = ["FIXED", "PERCENT"] as const;
export type DiscountType = (typeof DISCOUNT_TYPES)[number];

export const MAX_QUANTITY = 100_000_000;
export const MAX_PER_USER_LIMIT = 1000;
export const MAX_VALID_DAYS = 3650;
const DAY_MS = 86_400_000;

export interface PolicyDraft {
  name: string;
  issueType: IssueType;
  code: string | null;
  totalQuantity: number | null;
  perUserLimit: number;
  validDays: number | null;
  validUntil: Date | null;
  issueStartAt: Date;
  issueEndAt: Date;
  discountType: DiscountType;
  discountValue: number;
}

/** The rules that span fields; field types and ranges are checked by the HTTP schema first. */
export function policyDraftProblems(d: PolicyDraft): string[] {
  const problems: string[] = [];
  if (d.issueType === "FCFS" && d.totalQuantity === null) problems.push("totalQuantity is required for FCFS");
  if (d.issueType === "CODE" && !d.code) problems.push("code is required for CODE");
  if (d.issueType !== "CODE" && d.code) problems.push("code is only for CODE policies");
  if (d.validDays === null && d.validUntil === null) problems.push("validDays or validUntil is required");
  if (d.issueEndAt.getTime() <= d.issueStartAt.getTime()) problems.push("issueEndAt must be after issueStartAt");
  if (d.validUntil !== null && d.validUntil.getTime() <= d.issueStartAt.getTime())
    problems.push("validUntil must be after issueStartAt");
  if (d.discountType === "PERCENT" && (d.discountValue < 1 || d.discountValue > 100))
    problems.push("a PERCENT discount is between 1 and 100");
  return problems;
}

/** Codes compare without case: "SUMMER10" and "summer10" are one code. */
export function codeKey(code: string): string {
  return code.trim().toLowerCase();
}

/** When a coupon issued at `issuedAt` stops being usable: the earlier of its two limits. */
export function couponExpiry(
  policy: { validDays: number | null; validUntil: Date | null },
  issuedAt: Date,
): Date {
  const byDays = policy.validDays === null ? Infinity : issuedAt.getTime() + policy.validDays * DAY_MS;
  const byDate = policy.validUntil === null ? Infinity : policy.validUntil.getTime();
  return new Date(Math.min(byDays, byDate));
}

const POLICY_NEXT: Readonly<Record<PolicyStatus, readonly PolicyStatus[]>> = {
  ACTIVE: ["PAUSED", "ENDED"],
  PAUSED: ["ACTIVE", "ENDED"],
  ENDED: [],
};

export function canChangePolicyStatus(from: PolicyStatus, to: PolicyStatus): boolean {
  return from === to || POLICY_NEXT[from].includes(to);
}

/**
 * Whether a policy issues at `now`: ACTIVE and inside [issueStartAt, issueEndAt). The admission
 * script (packages/redis/lua/admitRequest-6.lua) applies the same rule atomically in Redis for
 * FCFS and CODE; this is the rule for what does not go through it (DIRECT batches).
 */
export function isIssuing(p: { status: PolicyStatus; issueStartAt: Date; issueEndAt: Date }, now: Date): boolean {
  const t = now.getTime();
  return p.status === "ACTIVE" && t >= p.issueStartAt.getTime() && t < p.issueEndAt.getTime();
}
