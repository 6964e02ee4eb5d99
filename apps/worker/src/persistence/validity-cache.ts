// validDays and validUntil never change once a policy exists, so each worker reads them once.
import type { PrismaClient } from "@coupon/db/client";
import type { Validity } from "./issue-coupons.js";

export class ValidityCache {
  private readonly known = new Map<string, Validity>();

  constructor(private readonly prisma: PrismaClient) {}

  /** undefined when the policy does not exist (the careful path records why). */
  async get(policyId: string): Promise<Validity | undefined> {
    const hit = this.known.get(policyId);
    if (hit) return hit;
    const row = await this.prisma.couponPolicy.findUnique({
      where: { id: BigInt(policyId) },
      select: { validDays: true, validUntil: true },
    });
    if (!row) return undefined;
    if (this.known.size > 10_000) this.known.clear();
    this.known.set(policyId, row);
    return row;
  }
}
