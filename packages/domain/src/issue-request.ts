// An issue request is what a user gets back from an admission (202): an id they poll until the
// worker has persisted the coupon or recorded why it could not.

export const FAILURE_REASONS = [
  "ALREADY_ISSUED", // PostgreSQL already holds this user's coupon (Redis state was behind).
  "SOLD_OUT", // PostgreSQL's count says the policy is full (Redis state was behind).
  "POLICY_NOT_FOUND",
  "INVALID_REQUEST", // The job payload could never be persisted.
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** One admitted request, as the admission script recorded it and the worker persists it. */
export interface AdmissionRecord {
  requestId: string;
  policyId: string;
  userId: string;
  /** the user's n-th coupon of the policy (1-based) */
  slot: number;
  /** epoch ms, Redis clock */
  admittedAt: number;
  clientIp: string;
}

const REQUEST_ID = /^([1-9][0-9]{0,18})-([0-9a-z]{20,32})$/;

/**
 * A request id carries its policy id so that a PENDING request can be found in that policy's
 * Redis slot without a second index; the random part makes it unguessable.
 */
export function makeRequestId(policyId: bigint | string, random: string): string {
  return `${policyId}-${random}`;
}

export function policyIdOfRequest(requestId: string): string | null {
  const m = REQUEST_ID.exec(requestId);
  return m ? (m[1] as string) : null;
}

/** 122 random bits (a v4 UUID without its dashes); Node draws them from a buffered CSPRNG. */
export function randomRequestToken(): string {
  return crypto.randomUUID().replace(/-/g, "");
}
