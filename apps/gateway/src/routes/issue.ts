// The stampede endpoints: FCFS by policy id, CODE by code. Both answer 202 with a requestId
// to poll; every refusal comes from the one Lua call, from what the gateway already knows, or
// from the rate limits (429 with Retry-After).
import { DomainError, parseId } from "@coupon/domain";
import type { GatewayMetrics } from "@coupon/telemetry";
import type { FastifyInstance, FastifyReply } from "fastify";
import { identityOf } from "../plugins/auth.js";
import { problem, problemCodeOf, retryAfterSeconds, sendProblem } from "../problem.js";
import type { IssueOutcome, IssueService } from "../services/issue-service.js";
import { bearer, idString, issueAcceptedSchema, problems } from "./schemas.js";

declare module "fastify" {
  interface FastifyReply {
    /** the issue handler counted this answer itself (the onResponse hook skips it) */
    issueCounted: boolean;
  }
}

export async function issueRoutes(
  app: FastifyInstance,
  opts: { issues: IssueService; metrics: GatewayMetrics },
): Promise<void> {
  const { issues, metrics } = opts;
  app.addHook("onRequest", app.authenticate);

  // Label children bound once: prom-client then skips hashing the labels on every request.
  const timers = { FCFS: metrics.admissionSeconds.labels("FCFS"), CODE: metrics.admissionSeconds.labels("CODE") };
  const outcomes = new Map<string, ReturnType<typeof metrics.issueRequests.labels>>();
  const count = (way: "FCFS" | "CODE", outcome: string) => {
    const key = `${way}:${outcome}`;
    let child = outcomes.get(key);
    if (!child) {
      child = metrics.issueRequests.labels(way, outcome);
      outcomes.set(key, child);
    }
    child.inc();
  };

  const admissionErrors = { FCFS: metrics.admissionErrors.labels("FCFS"), CODE: metrics.admissionErrors.labels("CODE") };
  // Answers the handler counted itself; every other answer of these routes (401, 429, 503 from a
  // hook, a thrown error turned into a problem) is counted once it is sent, by its problem code.
  // A reply decoration rather than a WeakSet: no weak-collection entry per answer.
  app.decorateReply("issueCounted", false);
  // Callback style: no promise per request on the hot path.
  app.addHook("onResponse", (request, reply, done) => {
    if (!reply.issueCounted) {
      const way = request.routeOptions.url === "/coupons/claim" ? "CODE" : "FCFS";
      count(way, problemCodeOf(reply) ?? (reply.statusCode >= 500 ? "INTERNAL" : `HTTP_${reply.statusCode}`));
    }
    done();
  });

  const answer = async (way: "FCFS" | "CODE", reply: FastifyReply, run: () => Promise<IssueOutcome>) => {
    const end = timers[way].startTimer();
    let outcome: IssueOutcome;
    try {
      outcome = await run();
    } catch (err) {
      // Refusals are answered, not thrown: what is thrown here is a store or script failing.
      if (!(err instanceof DomainError) || err.code === "UNAVAILABLE") admissionErrors[way].inc();
      end();
      throw err;
    }
    end();
    reply.issueCounted = true;
    count(way, outcome.ok ? "ADMITTED" : outcome.code);
    if (!outcome.ok) {
      if (outcome.retryAfterMs !== undefined) reply.header("retry-after", retryAfterSeconds(outcome.retryAfterMs));
      return sendProblem(reply, problem(outcome.code, outcome.detail, outcome.extra));
    }
    // One line per admission (bounded by the stock; refusals, the millions, log nothing): it joins
    // the HTTP request id (reqId) to the admission's requestId, which the worker's line carries.
    // The app's logger with reqId written in, not the request's child: no pino child per winner.
    app.log.info({ reqId: reply.request.id, requestId: outcome.requestId, way }, "admitted");
    return reply.code(202).send({ requestId: outcome.requestId, status: "PENDING" });
  };

  app.post<{ Params: { id: string } }>(
    "/policies/:id/issue",
    {
      schema: {
        tags: ["issue"],
        summary: "Ask for a FCFS coupon",
        security: bearer,
        params: { type: "object", required: ["id"], properties: { id: idString } },
        response: { 202: issueAcceptedSchema, ...problems(400, 401, 403, 404, 409, 410, 429, 503) },
      },
    },
    async (request, reply) => {
      if (parseId(request.params.id) === null) {
        throw new DomainError("VALIDATION", "params.id must be a positive 64-bit integer");
      }
      const { userId } = identityOf(request);
      return answer("FCFS", reply, () => issues.issue(request.params.id, userId, "FCFS", request.ip));
    },
  );

  app.post<{ Body: { code: string } }>(
    "/coupons/claim",
    {
      schema: {
        tags: ["issue"],
        summary: "Claim a coupon by its code",
        security: bearer,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["code"],
          properties: { code: { type: "string", minLength: 1, maxLength: 40 } },
        },
        response: { 202: issueAcceptedSchema, ...problems(400, 401, 403, 404, 409, 410, 429, 503) },
      },
    },
    async (request, reply) => {
      const { userId } = identityOf(request);
      return answer("CODE", reply, () => issues.claim(request.body.code, userId, request.ip));
    },
  );
}
