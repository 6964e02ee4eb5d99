// Marketing's DIRECT batches: their states and why a listed user got no coupon.

export const DIRECT_BATCH_STATES = ["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"] as const;
export type DirectBatchState = (typeof DIRECT_BATCH_STATES)[number];

export const DIRECT_FAILURE_REASONS = [
  "INVALID_USER_ID", // not a positive 64-bit decimal id
  "DUPLICATE_IN_BATCH", // listed earlier in the same batch (the first mention is issued)
  "ALREADY_ISSUED", // the user already holds the policy's coupons up to its per-user limit
  "SOLD_OUT", // the policy's totalQuantity was reached before this user's turn
] as const;
export type DirectFailureReason = (typeof DIRECT_FAILURE_REASONS)[number];

/** A finished batch takes no more commands. */
export function isFinishedBatch(state: DirectBatchState): boolean {
  return state === "COMPLETED" || state === "FAILED" || state === "CANCELLED";
}

/**
 * Seconds left at the rate the worker has kept since it started (null before it has a rate).
 * `processedByWorker` leaves out what the gateway already settled at submission (bad ids, duplicates).
 */
export function batchSecondsLeft(remaining: number, processedByWorker: number, elapsedMs: number): number | null {
  if (remaining <= 0) return 0;
  if (processedByWorker <= 0 || elapsedMs <= 0) return null;
  return Math.ceil((remaining * elapsedMs) / processedByWorker / 1000);
}
