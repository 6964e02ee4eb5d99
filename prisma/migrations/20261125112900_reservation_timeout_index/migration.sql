-- The reservation-release job looks for RESERVED coupons reserved before a cutoff. A partial index
-- holds only the coupons at checkout, so it stays small however many coupons exist.
-- (Hand-written: Prisma's schema language cannot state a partial index.)
CREATE INDEX "coupon_issues_reserved_at_idx" ON "coupon_issues" ("reserved_at") WHERE status = 'RESERVED';
