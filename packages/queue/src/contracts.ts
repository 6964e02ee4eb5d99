// What travels through the queues. The gateway and recovery produce these; the worker parses
// them before it trusts them.
import { isId, type AdmissionRecord } from "@coupon/domain";

export type { AdmissionRecord };

export const ISSUE_QUEUE = "issue";
export const PERSIST_JOB = "persist";
export const RECOVER_JOB = "recover-admissions";
export const MAINTENANCE_QUEUE = "maintenance";
export const EXPIRY_JOB = "expiry";
export const RELEASE_JOB = "reservation-release";
export const RECONCILE_JOB = "reconciliation";

/** The maintenance jobs a job scheduler runs; an admin can also run any of them once. */
export const SCHEDULED_JOBS = [EXPIRY_JOB, RELEASE_JOB, RECONCILE_JOB, RECOVER_JOB] as const;
export type ScheduledJob = (typeof SCHEDULED_JOBS)[number];

export function isScheduledJob(name: string): name is ScheduledJob {
  return (SCHEDULED_JOBS as readonly string[]).includes(name);
}

export interface PersistJobData {
  admissions: AdmissionRecord[];
}

function isAdmission(v: unknown): v is AdmissionRecord {
  if (typeof v !== "object" || v === null) return false;
  const a = v as Record<string, unknown>;
  return (
    typeof a.requestId === "string" &&
    a.requestId.length <= 80 &&
    isId(a.policyId) &&
    isId(a.userId) &&
    Number.isInteger(a.slot) &&
    (a.slot as number) >= 1 &&
    Number.isFinite(a.admittedAt) &&
    typeof a.clientIp === "string"
  );
}

/** Null when the payload is not a persist job: such a job can never succeed. */
export function parsePersistJob(data: unknown): PersistJobData | null {
  if (typeof data !== "object" || data === null) return null;
  const admissions = (data as { admissions?: unknown }).admissions;
  if (!Array.isArray(admissions) || admissions.length === 0 || !admissions.every(isAdmission)) return null;
  return { admissions };
}

export const DIRECT_BATCH_QUEUE = "direct-batch";
export const DIRECT_BATCH_JOB = "direct-batch";

export interface DirectBatchJobData {
  batchId: string;
}

/** Null when the payload is not a batch job. */
export function parseDirectBatchJob(data: unknown): DirectBatchJobData | null {
  if (typeof data !== "object" || data === null) return null;
  const batchId = (data as { batchId?: unknown }).batchId;
  return isId(batchId) ? { batchId } : null;
}
