// Coupon numbers: 17 symbols from a CSPRNG (17 * log2(31) = 84 bits) plus one check symbol,
// shown as three groups of six. The alphabet leaves out 0/O, 1/I/L so a number read aloud or
// retyped cannot be confused; its size, 31, is prime, which lets a weighted check symbol catch
// every single wrong symbol and every swap of two neighbours.

export const COUPON_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const N = COUPON_ALPHABET.length; // 31
const BODY_LENGTH = 17;
export const COUPON_NUMBER_LENGTH = BODY_LENGTH + 1;
const INDEX = new Map([...COUPON_ALPHABET].map((c, i) => [c, i]));
// Largest multiple of 31 that fits in a byte: bytes at or above it are redrawn so every symbol is equally likely.
const BYTE_LIMIT = 256 - (256 % N);

function checkSymbol(body: string): string {
  // Symbol i (1-based) weighs i and the check symbol weighs 18; the check makes the weighted sum
  // 0 mod 31. Weights are distinct and non-zero mod a prime, so one wrong symbol or one swap of
  // neighbours always changes the sum. 19 is 18's inverse mod 31.
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += (i + 1) * (INDEX.get(body[i] as string) as number);
  return COUPON_ALPHABET[(((N - (sum % N)) % N) * 19) % N] as string;
}

/** Builds a number from random bytes; draws more through `more` when bytes are rejected. */
export function couponNumberFromRandom(fill: (bytes: Uint8Array) => void): string {
  let body = "";
  const buf = new Uint8Array(32);
  while (body.length < BODY_LENGTH) {
    fill(buf);
    for (const b of buf) {
      if (b >= BYTE_LIMIT) continue;
      body += COUPON_ALPHABET[b % N];
      if (body.length === BODY_LENGTH) break;
    }
  }
  return body + checkSymbol(body);
}

export function generateCouponNumber(): string {
  return couponNumberFromRandom((bytes) => crypto.getRandomValues(bytes));
}

/** Canonical form of what a person typed: upper case, no separators. Null when it cannot be a number. */
export function normalizeCouponNumber(input: string): string | null {
  if (input.length > 40) return null;
  const compact = input.replace(/[\s-]/g, "").toUpperCase();
  if (compact.length !== COUPON_NUMBER_LENGTH) return null;
  for (const c of compact) if (!INDEX.has(c)) return null;
  return compact;
}

/** True when the number is well formed and its check symbol matches: no lookup needed to reject a typo. */
export function isValidCouponNumber(input: string): boolean {
  const n = normalizeCouponNumber(input);
  return n !== null && checkSymbol(n.slice(0, BODY_LENGTH)) === n[BODY_LENGTH];
}

export function formatCouponNumber(canonical: string): string {
  return `${canonical.slice(0, 6)}-${canonical.slice(6, 12)}-${canonical.slice(12)}`;
}
