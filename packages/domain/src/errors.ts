// The one catalogue of failures a client or an operator can see. Every HTTP problem+json answer
// and every recorded failure reason takes its code, status and title from here.

export const ERRORS = {
  VALIDATION: { status: 400, title: "Request is not valid" },
  BAD_JSON: { status: 400, title: "Body is not valid JSON" },
  INVALID_COUPON_NUMBER: { status: 400, title: "Coupon number is not valid" },
  UNAUTHORIZED: { status: 401, title: "Authentication required" },
  FORBIDDEN: { status: 403, title: "Not allowed" },
  NOT_OPEN: { status: 403, title: "Policy is not open for issuing" },
  NOT_FOUND: { status: 404, title: "Not found" },
  POLICY_NOT_FOUND: { status: 404, title: "Policy not found" },
  CODE_NOT_FOUND: { status: 404, title: "Coupon code not found" },
  REQUEST_NOT_FOUND: { status: 404, title: "Issue request not found" },
  COUPON_NOT_FOUND: { status: 404, title: "Coupon not found" },
  SCHEDULE_NOT_FOUND: { status: 404, title: "Schedule not found" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method not allowed" },
  ALREADY_ISSUED: { status: 409, title: "Already issued to this user" },
  CODE_TAKEN: { status: 409, title: "Coupon code already in use" },
  INVALID_STATE: { status: 409, title: "Not allowed in the current state" },
  WRONG_ISSUE_TYPE: { status: 409, title: "Policy is not issued this way" },
  SOLD_OUT: { status: 410, title: "Sold out" },
  EXPIRED: { status: 410, title: "Coupon expired" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "Body too large" },
  URI_TOO_LONG: { status: 414, title: "URL too long" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported media type" },
  RATE_LIMITED: { status: 429, title: "Too many requests" },
  INTERNAL: { status: 500, title: "Internal error" },
  UNAVAILABLE: { status: 503, title: "Service unavailable" },
  // Load shedding: a code of its own, so that operators can tell it from an unreachable store.
  OVERLOADED: { status: 503, title: "Overloaded" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** A failure the domain expects; adapters turn it into a problem+json answer or a failure reason. */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extra: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, detail?: string, extra?: Record<string, unknown>) {
    super(detail ?? ERRORS[code].title);
    this.name = "DomainError";
    this.code = code;
    this.status = ERRORS[code].status;
    this.extra = extra;
  }
}

export function isDomainError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}
