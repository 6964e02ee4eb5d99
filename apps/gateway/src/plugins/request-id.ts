// The HTTP request id: the caller's X-Request-Id when it is a sane token (a load balancer's or a
// client's own trace id), else one of ours. Every log line of the request carries it as reqId and
// the answer echoes it, so a caller can quote it. Ours are a per-process random prefix and a
// counter: unique across gateways without a CSPRNG draw per request.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import fp from "fastify-plugin";

export const REQUEST_ID_HEADER = "x-request-id";
const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdGenerator(): (req: IncomingMessage) => string {
  const boot = randomBytes(4).toString("hex");
  let n = 0;
  return (req) => {
    const given = req.headers[REQUEST_ID_HEADER];
    if (typeof given === "string" && SANE.test(given)) return given;
    n = (n + 1) % Number.MAX_SAFE_INTEGER;
    return `${boot}-${n.toString(36)}`;
  };
}

async function requestIdPlugin(app: FastifyInstance): Promise<void> {
  // A callback hook: no promise per request.
  app.addHook("onRequest", (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
}

export default fp(requestIdPlugin, { name: "request-id" });
