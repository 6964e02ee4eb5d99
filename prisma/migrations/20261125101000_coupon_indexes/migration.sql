-- DropIndex
DROP INDEX "coupon_issues_request_id_key";

-- DropIndex
DROP INDEX "coupon_issues_user_id_issued_at_idx";

-- CreateIndex
CREATE INDEX "coupon_issues_user_id_id_idx" ON "coupon_issues"("user_id", "id");
