// The coupon's moves after issue: the order service reserves, uses and releases; an admin cancels.
// PostgreSQL decides each move in one statement; this service checks the number first, explains a
// refusal, and bumps the owner's coupon-cache version after the commit and before the answer, so
// no list read after the answer can show the coupon as it was.
import {
  COUPON_TRANSITIONS,
  DomainError,
  isValidCouponNumber,
  normalizeCouponNumber,
  transitionRefusal,
  type CouponAction,
  type CouponSnapshot,
} from "@coupon/domain";
import type { PrismaClient } from "@coupon/db/client";
import { invalidateCouponCache, type KeySpace, type RedisClient } from "@coupon/redis";
import { randomUUID } from "node:crypto";
import {
  readCouponSnapshot,
  transitionCoupon,
  type TransitionInput,
  type TransitionTarget,
} from "../persistence/transition-coupon.js";
import { couponView } from "./policy-view.js";

export type CouponView = ReturnType<typeof couponView>;

/** The canonical number, or a 400 before any lookup: a typo never reaches PostgreSQL. */
export function parseCouponNumber(raw: string): string {
  const compact = isValidCouponNumber(raw) ? normalizeCouponNumber(raw) : null;
  if (compact === null) throw new DomainError("INVALID_COUPON_NUMBER", "The coupon number is malformed or its check character is wrong");
  return compact;
}

export class CouponService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
  ) {}

  reserve(userId: string, number: string, orderId: string, clientIp: string): Promise<CouponView> {
    return this.apply({ couponNumber: parseCouponNumber(number), userId, clientIp }, { action: "reserve", orderId, reservationId: randomUUID() });
  }

  use(userId: string, number: string, reservationId: string, clientIp: string): Promise<CouponView> {
    return this.apply({ couponNumber: parseCouponNumber(number), userId, clientIp }, { action: "use", reservationId: reservationId.toLowerCase() });
  }

  release(userId: string, number: string, reservationId: string, clientIp: string): Promise<CouponView> {
    return this.apply({ couponNumber: parseCouponNumber(number), userId, clientIp }, { action: "release", reservationId: reservationId.toLowerCase() });
  }

  cancel(adminId: string, number: string, reason: string, clientIp: string): Promise<CouponView> {
    return this.apply({ couponNumber: parseCouponNumber(number), userId: null, clientIp }, { action: "cancel", reason, adminId });
  }

  private async apply(target: TransitionTarget, input: TransitionInput): Promise<CouponView> {
    const coupon = await transitionCoupon(this.prisma, target, input);
    if (!coupon) throw this.refusal(input.action, await readCouponSnapshot(this.prisma, target.couponNumber, target.userId));
    await invalidateCouponCache(this.redis, this.keys, [coupon.userId.toString()]);
    return couponView(coupon);
  }

  private refusal(action: CouponAction, snapshot: CouponSnapshot | null): DomainError {
    const code = transitionRefusal(action, snapshot);
    if (code === "COUPON_NOT_FOUND") return new DomainError(code, "No such coupon");
    if (code === "EXPIRED") return new DomainError(code, "The coupon is past its expiry");
    if (snapshot?.status === "RESERVED" && COUPON_TRANSITIONS[action].needsReservation) {
      return new DomainError(code, "The reservationId is not the coupon's current reservation");
    }
    return new DomainError(code, `Cannot ${action} a coupon that is ${snapshot?.status ?? "unknown"}`);
  }
}
