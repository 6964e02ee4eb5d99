-- CreateEnum
CREATE TYPE "IssueType" AS ENUM ('FCFS', 'CODE', 'DIRECT');

-- CreateEnum
CREATE TYPE "PolicyStatus" AS ENUM ('ACTIVE', 'PAUSED', 'ENDED');

-- CreateEnum
CREATE TYPE "DiscountType" AS ENUM ('FIXED', 'PERCENT');

-- CreateEnum
CREATE TYPE "CouponStatus" AS ENUM ('ISSUED', 'RESERVED', 'USED', 'EXPIRED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "IssueRequestStatus" AS ENUM ('ISSUED', 'FAILED');

-- CreateTable
CREATE TABLE "coupon_policies" (
    "id" BIGSERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "issue_type" "IssueType" NOT NULL,
    "code" TEXT,
    "code_key" TEXT,
    "total_quantity" INTEGER,
    "per_user_limit" INTEGER NOT NULL DEFAULT 1,
    "valid_days" INTEGER,
    "valid_until" TIMESTAMPTZ(3),
    "issue_start_at" TIMESTAMPTZ(3) NOT NULL,
    "issue_end_at" TIMESTAMPTZ(3) NOT NULL,
    "status" "PolicyStatus" NOT NULL DEFAULT 'ACTIVE',
    "discount_type" "DiscountType" NOT NULL,
    "discount_value" INTEGER NOT NULL,
    "issued_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "coupon_policies_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "coupon_issues" (
    "id" BIGSERIAL NOT NULL,
    "policy_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "user_slot" INTEGER NOT NULL DEFAULT 1,
    "coupon_number" TEXT NOT NULL,
    "request_id" TEXT,
    "status" "CouponStatus" NOT NULL DEFAULT 'ISSUED',
    "issued_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "reserved_at" TIMESTAMPTZ(3),
    "order_id" TEXT,
    "reservation_id" TEXT,

    CONSTRAINT "coupon_issues_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "issue_requests" (
    "id" TEXT NOT NULL,
    "policy_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "status" "IssueRequestStatus" NOT NULL,
    "coupon_id" BIGINT,
    "reason" TEXT,
    "admitted_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "issue_requests_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "coupon_audit" (
    "id" BIGSERIAL NOT NULL,
    "coupon_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "action" TEXT NOT NULL,
    "details" JSONB,
    "client_ip" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "coupon_audit_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outbox_events" (
    "id" BIGSERIAL NOT NULL,
    "event_type" TEXT NOT NULL,
    "aggregate_id" BIGINT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "coupon_policies_code_key_key" ON "coupon_policies"("code_key");

-- CreateIndex
CREATE UNIQUE INDEX "coupon_issues_coupon_number_key" ON "coupon_issues"("coupon_number");

-- CreateIndex
CREATE UNIQUE INDEX "coupon_issues_request_id_key" ON "coupon_issues"("request_id");

-- CreateIndex
CREATE INDEX "coupon_issues_user_id_issued_at_idx" ON "coupon_issues"("user_id", "issued_at");

-- CreateIndex
CREATE INDEX "coupon_issues_status_expires_at_idx" ON "coupon_issues"("status", "expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "coupon_issues_policy_id_user_id_user_slot_key" ON "coupon_issues"("policy_id", "user_id", "user_slot");

-- CreateIndex
CREATE INDEX "issue_requests_policy_id_status_idx" ON "issue_requests"("policy_id", "status");

-- CreateIndex
CREATE INDEX "coupon_audit_coupon_id_idx" ON "coupon_audit"("coupon_id");

-- AddForeignKey
ALTER TABLE "coupon_issues" ADD CONSTRAINT "coupon_issues_policy_id_fkey" FOREIGN KEY ("policy_id") REFERENCES "coupon_policies"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "issue_requests" ADD CONSTRAINT "issue_requests_policy_id_fkey" FOREIGN KEY ("policy_id") REFERENCES "coupon_policies"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------------------------
-- Hand-written: constraints Prisma's schema language cannot express (not generated, not diffed).

-- AddCheckConstraints
ALTER TABLE "coupon_policies"
    ADD CONSTRAINT "coupon_policies_issued_count_nonneg_check" CHECK ("issued_count" >= 0),
    ADD CONSTRAINT "coupon_policies_issued_within_total_check" CHECK ("total_quantity" IS NULL OR "issued_count" <= "total_quantity"),
    ADD CONSTRAINT "coupon_policies_per_user_limit_check" CHECK ("per_user_limit" >= 1),
    ADD CONSTRAINT "coupon_policies_total_quantity_nonneg_check" CHECK ("total_quantity" IS NULL OR "total_quantity" >= 0),
    ADD CONSTRAINT "coupon_policies_fcfs_total_quantity_check" CHECK ("issue_type" <> 'FCFS' OR "total_quantity" IS NOT NULL),
    ADD CONSTRAINT "coupon_policies_code_key_check" CHECK (("issue_type" = 'CODE') = ("code_key" IS NOT NULL)),
    ADD CONSTRAINT "coupon_policies_percent_range_check" CHECK ("discount_type" <> 'PERCENT' OR "discount_value" BETWEEN 1 AND 100),
    ADD CONSTRAINT "coupon_policies_discount_value_check" CHECK ("discount_value" > 0),
    ADD CONSTRAINT "coupon_policies_validity_check" CHECK ("valid_days" IS NOT NULL OR "valid_until" IS NOT NULL),
    ADD CONSTRAINT "coupon_policies_issue_window_check" CHECK ("issue_end_at" > "issue_start_at");

-- AddCheckConstraint
ALTER TABLE "coupon_issues"
    ADD CONSTRAINT "coupon_issues_user_slot_check" CHECK ("user_slot" >= 1);

-- CreateIndex (partial: the outbox relay scans only unpublished events)
CREATE INDEX "outbox_events_unpublished_idx" ON "outbox_events" ("id") WHERE "published_at" IS NULL;
