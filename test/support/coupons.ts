// Coupons to act on, inserted straight into PostgreSQL where the issuing path is not the point,
// and what the transitions left behind (audit rows, outbox events) for assertions.
import { randomInt } from "node:crypto";
import type { PrismaClient } from "@coupon/db/client";
import { formatCouponNumber, generateCouponNumber } from "@coupon/domain";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { createPolicy } from "./harness.js";
import { adminToken, bearer, userToken } from "./tokens.js";

/** A user id no other test file uses (test files share one database). */
export function freshUserId(): string {
  return String(randomInt(1_000_000_000, 2 ** 47));
}

export interface TestCoupon {
  id: bigint;
  userId: string;
  /** compact, as stored */
  number: string;
  /** XXXXXX-XXXXXX-XXXXXX */
  printed: string;
}

/** One policy for a file's direct inserts (the coupons need its foreign key). */
export async function directPolicy(app: FastifyInstance): Promise<string> {
  return (await createPolicy(app, { issueType: "DIRECT", totalQuantity: null })).id;
}

export async function insertCoupon(
  prisma: PrismaClient,
  policyId: string,
  userId: string = freshUserId(),
  slot = 1,
): Promise<TestCoupon> {
  const number = generateCouponNumber();
  const row = await prisma.couponIssue.create({
    data: {
      policyId: BigInt(policyId),
      userId: BigInt(userId),
      userSlot: slot,
      couponNumber: number,
      status: "ISSUED",
      expiresAt: new Date(Date.now() + 7 * 86_400_000),
    },
  });
  return { id: row.id, userId, number, printed: formatCouponNumber(number) };
}

export async function trail(prisma: PrismaClient, couponId: bigint) {
  const audit = await prisma.couponAudit.findMany({ where: { couponId }, orderBy: { id: "asc" } });
  const events = await prisma.outboxEvent.findMany({ where: { aggregateId: couponId }, orderBy: { id: "asc" } });
  return { audit, events };
}

type Answer = Promise<LightMyRequestResponse>;

export const act = (app: FastifyInstance, userId: string, number: string, action: "reserve" | "use" | "release", payload: object): Answer =>
  app.inject({ method: "POST", url: `/me/coupons/${number}/${action}`, headers: bearer(userToken(userId)), payload });

export const cancel = (app: FastifyInstance, number: string, reason = "customer complaint", token = adminToken()): Answer =>
  app.inject({ method: "POST", url: `/admin/coupons/${number}/cancel`, headers: bearer(token), payload: { reason } });

export const myCoupons = (app: FastifyInstance, userId: string, query = ""): Answer =>
  app.inject({ url: `/me/coupons${query}`, headers: bearer(userToken(userId)) });
