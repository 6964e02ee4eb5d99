// problem+json answers (RFC 9457), built from the domain's one error catalogue.
import { ERRORS, type ErrorCode } from "@coupon/domain";
import type { FastifyReply } from "fastify";

// With its charset: Fastify would otherwise append it to every answer, a new string each time.
export const PROBLEM_CONTENT_TYPE = "application/problem+json; charset=utf-8";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  [extra: string]: unknown;
}

// Built once per code: a stampede answers the same few problems millions of times.
const TYPES = new Map<ErrorCode, string>(Object.keys(ERRORS).map((c) => [c as ErrorCode, `/problems/${c.toLowerCase().replace(/_/g, "-")}`]));

export function problem(code: ErrorCode, detail?: string, extra?: Record<string, unknown>): Problem {
  const e = ERRORS[code];
  return {
    type: TYPES.get(code) as string,
    title: e.title,
    status: e.status,
    detail: detail ?? e.title,
    code,
    ...extra,
  };
}

declare module "fastify" {
  interface FastifyReply {
    /** the problem this reply carried (kept off its headers), for metrics that count answers by code */
    problemCode: ErrorCode | null;
  }
}

// A reply decoration (see the errors plugin), not a WeakMap: an entry per answer in a weak
// collection costs more than the answer's own bookkeeping, and more again at every GC.
export function problemCodeOf(reply: FastifyReply): ErrorCode | undefined {
  return reply.problemCode ?? undefined;
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  reply.problemCode = p.code;
  if (p.status === 401) reply.header("www-authenticate", 'Bearer realm="coupon"');
  return reply.code(p.status).type(PROBLEM_CONTENT_TYPE).send(p);
}

/**
 * Sends a problem whose JSON was made once (an answer given millions of times, the same every
 * time), past the serializer. The body must be the JSON of a problem with this code.
 */
export function sendProblemBody(reply: FastifyReply, code: ErrorCode, body: string): FastifyReply {
  reply.problemCode = code;
  return reply.code(ERRORS[code].status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** Retry-After in whole seconds, rounded up and at least 1 (HTTP allows no fractions). */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
