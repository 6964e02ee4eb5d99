// Ids travel as decimal strings (JSON numbers lose precision past 2^53) and are bigint inside.

const MAX_INT64 = (1n << 63n) - 1n;
const DECIMAL = /^[1-9][0-9]{0,18}$/;

/** Parses a positive signed 64-bit id written in decimal; null when it is anything else. */
export function parseId(value: unknown): bigint | null {
  if (typeof value !== "string" || !DECIMAL.test(value)) return null;
  const id = BigInt(value);
  return id <= MAX_INT64 ? id : null;
}

export function isId(value: unknown): value is string {
  return parseId(value) !== null;
}
