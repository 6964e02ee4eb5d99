// Ids travel as decimal strings (JSON numbers lose precision past 2^53) and are bigint inside.

const DECIMAL = /^[1-9][0-9]{0,18}$/;
const MAX_INT64_TEXT = "9223372036854775807";

/** A positive signed 64-bit id written in decimal. No bigint is made: the hot path only checks. */
export function isId(value: unknown): value is string {
  // Digit strings of one length compare like their numbers.
  return typeof value === "string" && DECIMAL.test(value) && (value.length < MAX_INT64_TEXT.length || value <= MAX_INT64_TEXT);
}

/** Parses a positive signed 64-bit id written in decimal; null when it is anything else. */
export function parseId(value: unknown): bigint | null {
  return isId(value) ? BigInt(value) : null;
}
