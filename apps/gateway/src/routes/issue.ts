// The stampede endpoints: FCFS by policy id, CODE by code. Both answer 202 with a requestId
// to poll; every refusal comes from the one Lua call, from what the gateway already knows, or
// from the rate limits (429 with Retry-After).
import { DomainError, isId } from "@coupon/domain";
import type { FastifyInstance, FastifyReply } from "fastify";
import { identityOf } from "../plugins/auth.js";
import { problem, problemCodeOf, retryAfterSeconds, sendProblem, sendProblemBody } from "../problem.js";
import type { IssueOutcome, IssueRefused, IssueService } from "../services/issue-service.js";
import { constantRefusalBody, type IssueMeter, type IssueWay } from "./issue-answers.js";
import { bearer, idString, issueAcceptedSchema, problems } from "./schemas.js";

declare module "fastify" {
  interface FastifyReply {
    /** the issue handler counted this answer itself (the onResponse hook skips it) */
    issueCounted: boolean;
  }
}

export async function issueRoutes(app: FastifyInstance, opts: { issues: IssueService; meter: IssueMeter }): Promise<void> {
  const { issues, meter } = opts;
  app.addHook("onRequest", app.authenticate);

  // Answers the handler counted itself; every other answer of these routes (401, 429, 503 from a
  // hook, a thrown error turned into a problem) is counted once it is sent, by its problem code.
  // A reply decoration rather than a WeakSet: no weak-collection entry per answer.
  app.decorateReply("issueCounted", false);
  // Callback style: no promise per request on the hot path.
  app.addHook("onResponse", (request, reply, done) => {
    if (!reply.issueCounted) {
      const way = request.routeOptions.url === "/coupons/claim" ? "CODE" : "FCFS";
      meter.count(way, problemCodeOf(reply) ?? (reply.statusCode >= 500 ? "INTERNAL" : `HTTP_${reply.statusCode}`));
    }
    done();
  });

  const refuse = (reply: FastifyReply, outcome: IssueRefused): FastifyReply => {
    if (outcome.retryAfterMs !== undefined) reply.header("retry-after", retryAfterSeconds(outcome.retryAfterMs));
    const body = constantRefusalBody(outcome);
    if (body !== undefined) return sendProblemBody(reply, outcome.code, body);
    return sendProblem(reply, problem(outcome.code, outcome.detail, outcome.extra));
  };
  const settled = (way: IssueWay, reply: FastifyReply, startedAt: number, outcome: string) => {
    meter.settled(way, startedAt, outcome);
    reply.issueCounted = true;
  };

  /** A refusal this gateway already knows, answered synchronously: no promise, no Redis. */
  const answerKnown = (way: IssueWay, reply: FastifyReply, startedAt: number, known: IssueRefused): void => {
    settled(way, reply, startedAt, known.code);
    refuse(reply, known);
  };

  const answer = async (way: IssueWay, reply: FastifyReply, startedAt: number, run: () => Promise<IssueOutcome>) => {
    let outcome: IssueOutcome;
    try {
      outcome = await run();
    } catch (err) {
      // Refusals are answered, not thrown: what is thrown here is a store or script failing.
      meter.failed(way, startedAt, !(err instanceof DomainError) || err.code === "UNAVAILABLE");
      throw err;
    }
    settled(way, reply, startedAt, outcome.ok ? "ADMITTED" : outcome.code);
    if (!outcome.ok) return refuse(reply, outcome);
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
    // Not async: a known refusal is answered without a promise; anything else returns one.
    (request, reply) => {
      const startedAt = performance.now();
      const policyId = request.params.id;
      if (!isId(policyId)) throw new DomainError("VALIDATION", "params.id must be a positive 64-bit integer");
      const { userId } = identityOf(request);
      const known = issues.knownRefusal(policyId, userId, "FCFS");
      if (known) return answerKnown("FCFS", reply, startedAt, known);
      return answer("FCFS", reply, startedAt, () => issues.issue(policyId, userId, "FCFS", request.ip));
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
    (request, reply) => {
      const startedAt = performance.now();
      const { userId } = identityOf(request);
      const known = issues.knownClaimRefusal(request.body.code, userId);
      if (known) return answerKnown("CODE", reply, startedAt, known);
      return answer("CODE", reply, startedAt, () => issues.claim(request.body.code, userId, request.ip));
    },
  );
}
