// DIRECT batches on the gateway side: store a submitted list as chunks (streamed, in one
// transaction, so a rejected upload leaves nothing behind), enqueue the batch, read its progress
// and failures, and cancel it.
import type { Readable } from "node:stream";
import {
  DomainError,
  batchSecondsLeft,
  isFinishedBatch,
  isIssuing,
  parseId,
  type DirectBatchState,
  type DirectFailureReason,
} from "@coupon/domain";
import type { PrismaClient } from "@coupon/db/client";
import { enqueueDirectBatch, type DirectBatchJobData } from "@coupon/queue";
import type { Queue } from "bullmq";
import { requestBatchCancel } from "../persistence/cancel-batches.js";
import { CsvIdListParser, JsonIdListParser, type IdListParser } from "./id-list-parsers.js";

export interface DirectBatchLimits {
  maxBytes: number;
  maxIds: number;
  chunkSize: number;
}

export interface BatchRecord {
  id: bigint;
  policyId: bigint;
  state: DirectBatchState;
  totalRequested: number;
  processed: number;
  successCount: number;
  failureCount: number;
  settledAtSubmit: number;
  cancelRequested: boolean;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface FailureRow {
  id: bigint;
  userId: string;
  reason: string;
}

type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

/** Cut to a size worth keeping: an invalid entry is recorded as submitted, within reason. */
const KEPT_ID_CHARS = 64;
const FAILURE_FLUSH = 1000;

class Existing extends Error {}

export class DirectBatchService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly queue: Queue<DirectBatchJobData>,
    readonly limits: DirectBatchLimits,
    /** this deployment's REDIS_PREFIX, recorded on each batch (see recover-batches.ts) */
    private readonly queuePrefix: string,
  ) {}

  /** Stores the list and enqueues the batch; a known Idempotency-Key returns its batch instead. */
  async submit(
    policyId: bigint,
    body: AsyncIterable<Buffer | string> & Readable,
    format: "json" | "csv",
    idempotencyKey: string | null,
  ): Promise<{ batchId: string; created: boolean }> {
    const policy = await this.prisma.couponPolicy.findUnique({
      where: { id: policyId },
      select: { issueType: true, status: true, issueStartAt: true, issueEndAt: true },
    });
    if (!policy) throw new DomainError("POLICY_NOT_FOUND", `Policy ${policyId} not found`);
    if (policy.issueType !== "DIRECT") throw new DomainError("WRONG_ISSUE_TYPE", "Only a DIRECT policy takes direct issues");

    // A retried submission gets its batch back even if the policy has closed since.
    if (idempotencyKey !== null) {
      const known = await this.byKey(policyId, idempotencyKey);
      if (known) return this.resubmitted(known, body);
    }
    if (!isIssuing(policy, new Date())) {
      throw new DomainError(
        "NOT_OPEN",
        policy.status !== "ACTIVE"
          ? `Policy ${policyId} is ${policy.status}: it takes no batch`
          : `Policy ${policyId} issues from ${policy.issueStartAt.toISOString()} to ${policy.issueEndAt.toISOString()}`,
      );
    }

    let batchId: bigint;
    try {
      batchId = await this.prisma.$transaction((tx) => this.store(tx, policyId, body, format, idempotencyKey), {
        maxWait: 10_000,
        timeout: 300_000,
      });
    } catch (err) {
      // The same key submitted twice at once: the other submission committed first.
      if (err instanceof Existing && idempotencyKey !== null) {
        const known = await this.byKey(policyId, idempotencyKey);
        if (known) return this.resubmitted(known, body);
      }
      throw err;
    }
    await enqueueDirectBatch(this.queue, batchId.toString());
    return { batchId: batchId.toString(), created: true };
  }

  private async resubmitted(known: BatchRecord, body: Readable): Promise<{ batchId: string; created: boolean }> {
    body.resume(); // the list is not needed again; let the rest of the upload drain
    // The first submission may have died between its commit and its enqueue; the job id makes this a no-op otherwise.
    if (!isFinishedBatch(known.state)) await enqueueDirectBatch(this.queue, known.id.toString());
    return { batchId: known.id.toString(), created: false };
  }

  private async store(
    tx: Tx,
    policyId: bigint,
    body: AsyncIterable<Buffer | string>,
    format: "json" | "csv",
    idempotencyKey: string | null,
  ): Promise<bigint> {
    const [row] = await tx.$queryRaw<{ id: bigint }[]>`
      INSERT INTO direct_batches (policy_id, idempotency_key, total_requested, queue_prefix)
      VALUES (${policyId}, ${idempotencyKey}, 0, ${this.queuePrefix})
      ON CONFLICT (policy_id, idempotency_key) DO NOTHING
      RETURNING id`;
    if (!row) throw new Existing();
    const batchId = row.id;
    const { maxBytes, maxIds, chunkSize } = this.limits;

    const seen = new Set<string>();
    let total = 0;
    let chunkNo = 0;
    let ids: string[] = [];
    let failures: { userId: string; reason: DirectFailureReason }[] = [];
    let failed = 0;
    const onEntry = (raw: string) => {
      if (++total > maxIds) throw new DomainError("PAYLOAD_TOO_LARGE", `A batch may list at most ${maxIds} user ids`);
      const id = parseId(raw);
      if (id === null) failures.push({ userId: raw.slice(0, KEPT_ID_CHARS), reason: "INVALID_USER_ID" });
      else {
        const canonical = id.toString();
        if (seen.has(canonical)) failures.push({ userId: canonical, reason: "DUPLICATE_IN_BATCH" });
        else {
          seen.add(canonical);
          ids.push(canonical);
        }
      }
    };
    const flush = async (all: boolean) => {
      while (ids.length >= chunkSize || (all && ids.length > 0)) {
        const part = ids.slice(0, chunkSize);
        ids = ids.slice(part.length);
        await tx.$executeRaw`
          INSERT INTO direct_batch_chunks (batch_id, chunk_no, user_ids) VALUES (${batchId}, ${chunkNo++}, ${part}::bigint[])`;
      }
      if (failures.length >= FAILURE_FLUSH || (all && failures.length > 0)) {
        failed += failures.length;
        await tx.$executeRaw`
          INSERT INTO direct_batch_failures (batch_id, user_id, reason)
          SELECT ${batchId}, u, r
          FROM unnest(${failures.map((f) => f.userId)}::text[], ${failures.map((f) => f.reason)}::text[]) WITH ORDINALITY AS t(u, r, n)
          ORDER BY n`;
        failures = [];
      }
    };

    const parser: IdListParser = format === "json" ? new JsonIdListParser(onEntry) : new CsvIdListParser(onEntry);
    let bytes = 0;
    for await (const piece of body) {
      const text = typeof piece === "string" ? piece : piece.toString("utf8");
      bytes += Buffer.byteLength(text);
      if (bytes > maxBytes) throw new DomainError("PAYLOAD_TOO_LARGE", `A batch upload may be at most ${maxBytes} bytes`);
      parser.write(text);
      await flush(false);
    }
    parser.end();
    if (total === 0) throw new DomainError("VALIDATION", "The list holds no user ids");
    await flush(true);
    await tx.$executeRaw`
      UPDATE direct_batches SET total_requested = ${total}, processed = ${failed}, failure_count = ${failed}, settled_at_submit = ${failed}
      WHERE id = ${batchId}`;
    return batchId;
  }

  async get(batchId: bigint): Promise<BatchRecord> {
    const batch = await this.prisma.directBatch.findUnique({ where: { id: batchId } });
    if (!batch) throw new DomainError("NOT_FOUND", `Batch ${batchId} not found`);
    return batch as BatchRecord;
  }

  private async byKey(policyId: bigint, idempotencyKey: string): Promise<BatchRecord | null> {
    const batch = await this.prisma.directBatch.findUnique({ where: { policyId_idempotencyKey: { policyId, idempotencyKey } } });
    return batch as BatchRecord | null;
  }

  async failures(batchId: bigint, after: bigint | null, limit: number): Promise<FailureRow[]> {
    await this.get(batchId);
    return this.failurePage(batchId, after, limit);
  }

  async failurePage(batchId: bigint, after: bigint | null, limit: number): Promise<FailureRow[]> {
    return this.prisma.directBatchFailure.findMany({
      where: { batchId, ...(after === null ? {} : { id: { gt: after } }) },
      orderBy: { id: "asc" },
      take: limit,
      select: { id: true, userId: true, reason: true },
    });
  }

  /** Every failure from `after` on, read page by page as the consumer takes them. */
  async *allFailures(batchId: bigint, after: bigint | null): AsyncGenerator<FailureRow[]> {
    let cursor = after;
    for (;;) {
      const page = await this.failurePage(batchId, cursor, 5000);
      if (page.length === 0) return;
      yield page;
      cursor = page.at(-1)!.id;
      if (page.length < 5000) return;
    }
  }

  /** A queued batch is cancelled at once; a running one stops before its next chunk. */
  async cancel(batchId: bigint): Promise<BatchRecord> {
    const asked = await requestBatchCancel(this.prisma, { batchId });
    const batch = await this.get(batchId);
    if (asked.length === 0) throw new DomainError("INVALID_STATE", `Batch ${batchId} is already ${batch.state}`);
    return batch;
  }
}

export function batchView(b: BatchRecord, now = Date.now()) {
  const remaining = b.totalRequested - b.processed;
  const byWorker = b.processed - b.settledAtSubmit;
  const estimatedSecondsLeft =
    isFinishedBatch(b.state) ? 0 : b.startedAt ? batchSecondsLeft(remaining, byWorker, now - b.startedAt.getTime()) : null;
  return {
    batchId: b.id.toString(),
    policyId: b.policyId.toString(),
    state: b.state,
    totalRequested: b.totalRequested,
    processed: b.processed,
    successCount: b.successCount,
    failureCount: b.failureCount,
    cancelRequested: b.cancelRequested,
    estimatedSecondsLeft,
    createdAt: b.createdAt.toISOString(),
    startedAt: b.startedAt?.toISOString() ?? null,
    finishedAt: b.finishedAt?.toISOString() ?? null,
  };
}
