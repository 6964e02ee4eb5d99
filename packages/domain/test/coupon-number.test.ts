import { describe, expect, it } from "vitest";
import {
  COUPON_ALPHABET,
  COUPON_NUMBER_LENGTH,
  couponNumberFromRandom,
  formatCouponNumber,
  generateCouponNumber,
  isValidCouponNumber,
  normalizeCouponNumber,
} from "../src/coupon-number.js";

describe("coupon numbers", () => {
  it("are 18 unambiguous symbols whose check symbol validates", () => {
    for (let i = 0; i < 2000; i++) {
      const n = generateCouponNumber();
      expect(n).toHaveLength(COUPON_NUMBER_LENGTH);
      expect(n).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]+$/);
      expect(isValidCouponNumber(n)).toBe(true);
    }
  });

  it("carry at least 80 bits of randomness", () => {
    expect((COUPON_NUMBER_LENGTH - 1) * Math.log2(COUPON_ALPHABET.length)).toBeGreaterThanOrEqual(80);
  });

  it("do not repeat across many draws", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50_000; i++) seen.add(generateCouponNumber());
    expect(seen.size).toBe(50_000);
  });

  it("reject every single wrong symbol and every swap of neighbours", () => {
    const n = generateCouponNumber();
    for (let i = 0; i < n.length; i++) {
      for (const c of COUPON_ALPHABET) {
        if (c === n[i]) continue;
        expect(isValidCouponNumber(n.slice(0, i) + c + n.slice(i + 1))).toBe(false);
      }
      if (i + 1 < n.length && n[i] !== n[i + 1]) {
        const swapped = n.slice(0, i) + n[i + 1] + n[i] + n.slice(i + 2);
        expect(isValidCouponNumber(swapped)).toBe(false);
      }
    }
  });

  it("use every symbol evenly (rejection sampling, no modulo bias)", () => {
    let calls = 0;
    // A source that only yields the byte 255 first (must be rejected), then counts up.
    const n = couponNumberFromRandom((bytes) => {
      for (let i = 0; i < bytes.length; i++) bytes[i] = calls === 0 ? 255 : (i * 7) % 248;
      calls++;
    });
    expect(calls).toBe(2);
    expect(isValidCouponNumber(n)).toBe(true);
  });

  it("accept the grouped, lower-case form a person types and refuse junk", () => {
    const n = generateCouponNumber();
    const typed = formatCouponNumber(n).toLowerCase();
    expect(normalizeCouponNumber(typed)).toBe(n);
    expect(isValidCouponNumber(typed)).toBe(true);
    expect(isValidCouponNumber("CPN1700000000000123")).toBe(false);
    expect(isValidCouponNumber("")).toBe(false);
    expect(isValidCouponNumber("0".repeat(18))).toBe(false);
    expect(normalizeCouponNumber("X".repeat(500))).toBeNull();
  });
});
