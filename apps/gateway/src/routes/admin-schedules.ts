// Admin: the maintenance schedules (expiry, reservation release, reconciliation, recovery), their
// last runs, and running one now.
import { SCHEDULED_JOBS } from "@coupon/queue";
import type { FastifyInstance } from "fastify";
import { bearer, problems } from "./schemas.js";
import type { ScheduleService } from "../services/schedule-service.js";

const runSchema = {
  type: ["object", "null"],
  properties: {
    startedAt: { type: "string", format: "date-time" },
    finishedAt: { type: "string", format: "date-time" },
    outcome: { type: "string", enum: ["ok", "failed", "skipped"] },
    result: { type: "object", additionalProperties: { type: ["integer", "number", "string"] } },
  },
} as const;

const scheduleSchema = {
  type: "object",
  properties: {
    name: { type: "string", enum: SCHEDULED_JOBS },
    pattern: { type: ["string", "null"] },
    every: { type: ["integer", "null"] },
    nextRunAt: { type: ["string", "null"], format: "date-time" },
    lastRun: runSchema,
    runs: {
      type: "object",
      properties: { ok: { type: "integer" }, failed: { type: "integer" }, skipped: { type: "integer" } },
    },
  },
} as const;

export async function adminScheduleRoutes(app: FastifyInstance, opts: { schedules: ScheduleService }): Promise<void> {
  const { schedules } = opts;
  app.addHook("onRequest", app.authenticateAdmin);

  app.get(
    "/admin/schedules",
    {
      schema: {
        tags: ["admin"],
        summary: "Maintenance schedules with their next and last runs",
        security: bearer,
        response: { 200: { type: "array", items: scheduleSchema }, ...problems(401, 403) },
      },
    },
    async () => schedules.list(),
  );

  app.post<{ Params: { name: string } }>(
    "/admin/schedules/:name/run",
    {
      schema: {
        tags: ["admin"],
        summary: "Run a maintenance job now (under the same lock as its scheduled runs)",
        security: bearer,
        params: {
          type: "object",
          required: ["name"],
          properties: { name: { type: "string", maxLength: 64 } },
        },
        response: {
          202: { type: "object", properties: { jobId: { type: "string" } }, required: ["jobId"] },
          ...problems(401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const jobId = await schedules.runNow(request.params.name);
      return reply.code(202).send({ jobId });
    },
  );
}
