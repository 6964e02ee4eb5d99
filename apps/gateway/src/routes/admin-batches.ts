// Admin: submit a DIRECT policy's list (JSON or CSV, streamed), follow the batch, page or download
// its failures, cancel it.
import { Readable } from "node:stream";
import { DomainError, parseId } from "@coupon/domain";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { linkNext, readPage } from "./paging.js";
import { bearer, idString, problems } from "./schemas.js";
import { batchView, type DirectBatchService, type FailureRow } from "../services/direct-batch-service.js";

const batchSchema = {
  type: "object",
  properties: {
    batchId: { type: "string" },
    policyId: { type: "string" },
    state: { type: "string", enum: ["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"] },
    totalRequested: { type: "integer" },
    processed: { type: "integer" },
    successCount: { type: "integer" },
    failureCount: { type: "integer" },
    cancelRequested: { type: "boolean" },
    estimatedSecondsLeft: { type: ["integer", "null"], description: "at the worker's rate so far; null before it has one" },
    createdAt: { type: "string" },
    startedAt: { type: ["string", "null"] },
    finishedAt: { type: ["string", "null"] },
  },
} as const;

const batchParams = { type: "object", required: ["batchId"], properties: { batchId: idString } } as const;
const idempotencyKeyPattern = /^[\x21-\x7e]{1,200}$/;

function parseBatchId(raw: string): bigint {
  const id = parseId(raw);
  if (id === null) throw new DomainError("VALIDATION", "params.batchId must be a positive 64-bit integer");
  return id;
}

function formatOf(request: FastifyRequest): "json" | "csv" {
  const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  return type === "text/csv" ? "csv" : "json";
}

/**
 * The submission route, in a plugin of its own: its body parsers hand the raw stream to the
 * handler (counted and parsed as it arrives, up to maxBytes), while every other route keeps
 * Fastify's parsers and the small global body limit.
 */
async function submitRoute(app: FastifyInstance, opts: { batches: DirectBatchService }): Promise<void> {
  const { batches } = opts;
  const { maxBytes } = batches.limits;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(["application/json", "text/csv"], (request, payload, done) => {
    const declared = Number(request.headers["content-length"] ?? 0);
    if (declared > maxBytes) {
      done(new DomainError("PAYLOAD_TOO_LARGE", `A batch upload may be at most ${maxBytes} bytes`), undefined);
      return;
    }
    done(null, payload);
  });

  app.post<{ Params: { id: string } }>(
    "/admin/policies/:id/direct-issues",
    {
      schema: {
        tags: ["admin"],
        summary: "Issue a DIRECT policy's coupons to a list of users (JSON {userIds} or text/csv, one id per line)",
        description:
          "202 once the list is stored; the worker issues it. An Idempotency-Key header makes a retried submission return the same batch.",
        security: bearer,
        params: { type: "object", required: ["id"], properties: { id: idString } },
        response: {
          202: { type: "object", properties: { batchId: { type: "string" } } },
          ...problems(400, 401, 403, 404, 409, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const policyId = parseId(request.params.id);
      if (policyId === null) throw new DomainError("VALIDATION", "params.id must be a positive 64-bit integer");
      const key = request.headers["idempotency-key"];
      if (key !== undefined && (typeof key !== "string" || !idempotencyKeyPattern.test(key))) {
        throw new DomainError("VALIDATION", "Idempotency-Key must be 1 to 200 printable characters");
      }
      const body = request.body;
      if (!(body instanceof Readable)) throw new DomainError("UNSUPPORTED_MEDIA_TYPE", "Send application/json or text/csv");
      const { batchId, created } = await batches.submit(policyId, body, formatOf(request), key ?? null);
      reply.code(202).header("location", `/admin/batches/${batchId}`);
      if (!created) reply.header("idempotent-replayed", "true");
      return { batchId };
    },
  );
}

function wantsCsv(request: FastifyRequest<{ Querystring: { format?: string } }>): boolean {
  if (request.query.format === "csv") return true;
  const accept = request.headers.accept ?? "";
  return accept.split(",").some((t) => t.split(";")[0]!.trim().toLowerCase() === "text/csv");
}

function csvLine(f: FailureRow): string {
  // Invalid entries are kept as submitted: quote them so a comma or quote cannot break the file.
  const user = /^[0-9]+$/.test(f.userId) ? f.userId : `"${f.userId.replace(/"/g, '""')}"`;
  return `${user},${f.reason}\n`;
}

async function sendCsv(reply: FastifyReply, pages: AsyncGenerator<FailureRow[]>, batchId: bigint) {
  async function* lines() {
    yield "userId,reason\n";
    for await (const page of pages) yield page.map(csvLine).join("");
  }
  reply
    .type("text/csv; charset=utf-8")
    .header("content-disposition", `attachment; filename="batch-${batchId}-failures.csv"`);
  return reply.send(Readable.from(lines()));
}

export async function adminBatchRoutes(app: FastifyInstance, opts: { batches: DirectBatchService }): Promise<void> {
  const { batches } = opts;
  app.addHook("onRequest", app.authenticateAdmin);
  await app.register(submitRoute, { batches });

  app.get<{ Params: { batchId: string } }>(
    "/admin/batches/:batchId",
    {
      schema: {
        tags: ["admin"],
        summary: "A DIRECT batch's state and progress",
        security: bearer,
        params: batchParams,
        response: { 200: batchSchema, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => batchView(await batches.get(parseBatchId(request.params.batchId))),
  );

  app.get<{ Params: { batchId: string }; Querystring: { limit?: string; after?: string; format?: string } }>(
    "/admin/batches/:batchId/failures",
    {
      schema: {
        tags: ["admin"],
        summary: "The users a batch could not issue to, with the reason (paged; CSV with Accept: text/csv or ?format=csv)",
        description: "The CSV download holds every failure (from ?after on), streamed.",
        security: bearer,
        params: batchParams,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            limit: { type: "string", pattern: "^[0-9]{1,4}$", description: "page size, 1 to 1000 (default 100)" },
            after: { type: "string", pattern: "^[0-9]{1,19}$", description: "cursor from the previous page's Link header" },
            format: { type: "string", enum: ["json", "csv"] },
          },
        },
        response: {
          200: {
            type: "array",
            items: { type: "object", properties: { userId: { type: "string" }, reason: { type: "string" } } },
          },
          ...problems(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const batchId = parseBatchId(request.params.batchId);
      const page = readPage(request.query);
      if (wantsCsv(request)) {
        await batches.get(batchId);
        return sendCsv(reply, batches.allFailures(batchId, page.after), batchId);
      }
      const rows = await batches.failures(batchId, page.after, page.limit);
      linkNext(request, reply, page, rows.length, rows.at(-1)?.id);
      return rows.map((r) => ({ userId: r.userId, reason: r.reason }));
    },
  );

  app.post<{ Params: { batchId: string } }>(
    "/admin/batches/:batchId/cancel",
    {
      schema: {
        tags: ["admin"],
        summary: "Cancel a batch: a queued one at once, a running one before its next chunk",
        description: "409 INVALID_STATE when the batch already finished.",
        security: bearer,
        params: batchParams,
        response: { 200: batchSchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => batchView(await batches.cancel(parseBatchId(request.params.batchId))),
  );
}
