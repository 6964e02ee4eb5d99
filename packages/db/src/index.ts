// Types and enums of the data model. Importing this module loads no Prisma runtime and opens no
// connection. The client lives in "@coupon/db/client", migrations in "@coupon/db/migrate".
//
// `Prisma` is exported as a type-only namespace (Prisma.CouponPolicyCreateInput, ...). Its runtime
// values (Prisma.DbNull, Prisma.Decimal, ...) must come from "@coupon/db/client": the browser
// runtime's copies are different objects from the ones the client checks against.
export * from "./generated/prisma/enums.js";
export type { Prisma, CouponAudit, CouponIssue, CouponPolicy, IssueRequest, OutboxEvent } from "./generated/prisma/browser.js";
