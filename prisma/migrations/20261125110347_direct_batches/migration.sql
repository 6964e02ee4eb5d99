-- CreateEnum
CREATE TYPE "DirectBatchState" AS ENUM ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED');

-- CreateTable
CREATE TABLE "direct_batches" (
    "id" BIGSERIAL NOT NULL,
    "policy_id" BIGINT NOT NULL,
    "idempotency_key" TEXT,
    "state" "DirectBatchState" NOT NULL DEFAULT 'QUEUED',
    "total_requested" INTEGER NOT NULL,
    "processed" INTEGER NOT NULL DEFAULT 0,
    "success_count" INTEGER NOT NULL DEFAULT 0,
    "failure_count" INTEGER NOT NULL DEFAULT 0,
    "settled_at_submit" INTEGER NOT NULL DEFAULT 0,
    "queue_prefix" TEXT NOT NULL DEFAULT '',
    "cancel_requested" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "direct_batches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "direct_batch_chunks" (
    "batch_id" BIGINT NOT NULL,
    "chunk_no" INTEGER NOT NULL,
    "user_ids" BIGINT[],
    "done" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "direct_batch_chunks_pkey" PRIMARY KEY ("batch_id","chunk_no")
);

-- CreateTable
CREATE TABLE "direct_batch_failures" (
    "id" BIGSERIAL NOT NULL,
    "batch_id" BIGINT NOT NULL,
    "user_id" TEXT NOT NULL,
    "reason" TEXT NOT NULL,

    CONSTRAINT "direct_batch_failures_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "direct_batches_policy_id_idempotency_key_key" ON "direct_batches"("policy_id", "idempotency_key");

-- CreateIndex
CREATE INDEX "direct_batch_failures_batch_id_id_idx" ON "direct_batch_failures"("batch_id", "id");

-- AddForeignKey
ALTER TABLE "direct_batch_chunks" ADD CONSTRAINT "direct_batch_chunks_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "direct_batches"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "direct_batch_failures" ADD CONSTRAINT "direct_batch_failures_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "direct_batches"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Every id the batch was given is either still to do or counted once as a success or a failure.
ALTER TABLE "direct_batches" ADD CONSTRAINT "direct_batches_counts_check"
  CHECK ("success_count" + "failure_count" = "processed" AND "processed" <= "total_requested");
