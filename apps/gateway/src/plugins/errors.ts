// Turns every failure into problem+json: the domain's own errors, Fastify's request errors
// (bad JSON, schema violations, oversized bodies), unknown routes, and, last, anything
// unexpected as a bare 500 whose details stay in the log.
import { isDomainError, type ErrorCode } from "@coupon/domain";
import type { FastifyError, FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { problem, sendProblem } from "../problem.js";

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "BAD_JSON",
  FST_ERR_CTP_EMPTY_JSON_BODY: "BAD_JSON",
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "VALIDATION",
  FST_ERR_VALIDATION: "VALIDATION",
};

// A store that cannot be reached is the service being unavailable, not a bug: 503 and a hint to retry.
const UNREACHABLE_PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
const UNREACHABLE_DRIVER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);

function isUnavailable(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } };
  if (typeof e.code === "string" && UNREACHABLE_PRISMA_CODES.has(e.code)) return true;
  const kind = e.meta?.driverAdapterError?.cause?.kind;
  if (typeof kind === "string" && UNREACHABLE_DRIVER_KINDS.has(kind)) return true;
  // ioredis, when Redis is down: MaxRetriesPerRequestError, or a closed connection.
  return e.name === "MaxRetriesPerRequestError" || (typeof e.message === "string" && e.message === "Connection is closed.");
}

function validationDetail(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return err.message;
  const where = err.validationContext ?? "request";
  const path = first.instancePath ? first.instancePath.replace(/^\//, "").replace(/\//g, ".") : "";
  const prop = (first.params as { missingProperty?: string; additionalProperty?: string } | undefined) ?? {};
  const field = prop.missingProperty ?? prop.additionalProperty ?? path;
  const message = prop.additionalProperty ? "is not a known field" : first.message ?? "is not valid";
  return `${where}${field ? `.${field}` : ""} ${message}`;
}

async function errorsPlugin(app: FastifyInstance): Promise<void> {
  // Declared up front so every reply has the same shape (sendProblem sets it).
  app.decorateReply("problemCode", null);
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isDomainError(err)) return sendProblem(reply, problem(err.code, err.message, err.extra as Record<string, unknown>));
    if (err.validation) return sendProblem(reply, problem("VALIDATION", validationDetail(err)));
    const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (mapped) return sendProblem(reply, problem(mapped, err.message));
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendProblem(reply, problem(err.statusCode === 413 ? "PAYLOAD_TOO_LARGE" : "VALIDATION", err.message));
    }
    if (isUnavailable(err)) {
      request.log.error({ err }, "a store is unreachable");
      reply.header("retry-after", "1");
      return sendProblem(reply, problem("UNAVAILABLE", "A backing store is unreachable; try again shortly"));
    }
    request.log.error({ err }, "unhandled error");
    return sendProblem(reply, problem("INTERNAL", "An unexpected error occurred"));
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem("NOT_FOUND", `No route for ${request.method} ${request.url.split("?")[0]}`)),
  );
}

export default fp(errorsPlugin, { name: "errors" });
