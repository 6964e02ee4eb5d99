// JSON schemas shared by the routes: what Fastify validates and what /docs publishes.

export const idString = {
  type: "string",
  pattern: "^[1-9][0-9]{0,18}$",
  description: "A positive 64-bit integer, in decimal",
} as const;

export const problemSchema = {
  type: "object",
  description: "application/problem+json",
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    code: { type: "string" },
    requestId: { type: ["string", "null"] },
  },
  required: ["type", "title", "status", "detail", "code"],
} as const;

export const pageQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "string", pattern: "^[0-9]{1,4}$", description: "page size, 1 to 1000 (default 100)" },
    after: { type: "string", pattern: "^[0-9]{1,19}$", description: "cursor from the previous page's Link header" },
  },
} as const;

export const couponSchema = {
  type: "object",
  properties: {
    couponNumber: { type: "string" },
    policyId: { type: "string" },
    status: { type: "string", enum: ["ISSUED", "RESERVED", "USED", "EXPIRED", "CANCELLED"] },
    issuedAt: { type: "string", format: "date-time" },
    expiresAt: { type: "string", format: "date-time" },
    reservedAt: { type: ["string", "null"], format: "date-time" },
    usedAt: { type: ["string", "null"], format: "date-time" },
    orderId: { type: ["string", "null"] },
    reservationId: { type: ["string", "null"] },
  },
} as const;

export const issueAcceptedSchema = {
  type: "object",
  properties: {
    requestId: { type: "string" },
    status: { type: "string", enum: ["PENDING"] },
  },
  required: ["requestId", "status"],
} as const;

export const bearer = [{ bearerAuth: [] }];

export const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, { $ref: "problem#" }]));

/** A coupon number in a path: printed (XXXXXX-XXXXXX-XXXXXX, any case) or compact. The route
 * checks its form and check character itself, to answer INVALID_COUPON_NUMBER, not VALIDATION. */
export const couponNumberParams = {
  type: "object",
  additionalProperties: false,
  required: ["couponNumber"],
  properties: { couponNumber: { type: "string", description: "XXXXXX-XXXXXX-XXXXXX or the 18 symbols without dashes" } },
} as const;

/** What crypto.randomUUID() returns at reserve. */
export const reservationIdSchema = {
  type: "string",
  pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
  description: "the reservationId the reserve answered",
} as const;
