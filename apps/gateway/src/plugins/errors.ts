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
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isDomainError(err)) return sendProblem(reply, problem(err.code, err.message, err.extra as Record<string, unknown>));
    if (err.validation) return sendProblem(reply, problem("VALIDATION", validationDetail(err)));
    const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (mapped) return sendProblem(reply, problem(mapped, err.message));
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendProblem(reply, problem(err.statusCode === 413 ? "PAYLOAD_TOO_LARGE" : "VALIDATION", err.message));
    }
    request.log.error({ err }, "unhandled error");
    return sendProblem(reply, problem("INTERNAL", "An unexpected error occurred"));
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem("NOT_FOUND", `No route for ${request.method} ${request.url.split("?")[0]}`)),
  );
}

export default fp(errorsPlugin, { name: "errors" });
