// bull-board, the queue UI BullMQ users know, under an admin-only path. A browser cannot send a
// Bearer header, so an operator opens `<path>/?token=<admin JWT>` once: the token is checked like
// any Bearer token, kept for the browser session in an HttpOnly, SameSite=Strict cookie scoped to the board's path (never
// readable by scripts, never sent by another site or to another route), and the browser is sent
// on to the board without the token in its address bar. Scripts and header-setting proxies may
// send `Authorization: Bearer` instead. Every board URL (page, static files, API) answers 401/403
// problem+json without an admin's token. Registered encapsulated: its hook, its view engine and
// its static files exist only under its path, so the issue routes pay nothing for it.
import { DomainError, isDomainError } from "@coupon/domain";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { Queue } from "bullmq";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { problem, sendProblem } from "../problem.js";

export const BOARD_COOKIE = "queue_board_token";

export interface QueueBoardOptions {
  /** where the board is mounted, e.g. /admin/queues */
  path: string;
  queues: Queue[];
}

function cookieToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === BOARD_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function queryToken(request: FastifyRequest): string | undefined {
  const token = (request.query as Record<string, unknown> | undefined)?.token;
  return typeof token === "string" ? token : undefined;
}

export async function queueBoardPlugin(app: FastifyInstance, opts: QueueBoardOptions): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(opts.path);
  createBullBoard({
    // Read-only: removing or emptying a persistence job by hand would strand admitted winners
    // until recovery, and the maintenance queue's jobs have their own admin API.
    queues: opts.queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: "Coupon queues" } },
  });

  const secure = (request: FastifyRequest) => request.protocol === "https";

  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const fromQuery = queryToken(request);
    const header = request.headers.authorization;
    const token = header?.startsWith("Bearer ") ? header.slice(7) : (fromQuery ?? cookieToken(request.headers.cookie));
    try {
      if (!token) throw new DomainError("UNAUTHORIZED", "An admin token is required: open the board once with ?token=<admin JWT>");
      const identity = app.identifyToken(token);
      if (!identity.admin) throw new DomainError("FORBIDDEN", "This needs an admin token");
      request.identity = identity;
    } catch (err) {
      // Answered here, not thrown: bull-board installs its own error handler in this scope.
      if (!isDomainError(err)) throw err;
      return sendProblem(reply, problem(err.code, err.message));
    }
    if (fromQuery !== undefined && request.method === "GET") {
      const url = new URL(request.url, "http://board.invalid");
      url.searchParams.delete("token");
      reply.header(
        "set-cookie",
        `${BOARD_COOKIE}=${token}; Path=${opts.path}; HttpOnly; SameSite=Strict${secure(request) ? "; Secure" : ""}`,
      );
      reply.header("cache-control", "no-store");
      return reply.redirect(`${url.pathname}${url.search}`, 303);
    }
    return undefined;
  });

  await app.register(serverAdapter.registerPlugin(), { prefix: opts.path });
}
