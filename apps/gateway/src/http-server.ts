// The gateway's HTTP server: the one Fastify would make, with a front door that may answer a
// request before Fastify's router sees it (see known-refusal-door.ts). The door is set once the
// app is built; until then, and whenever it declines, Fastify answers.
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from "node:http";
import type { FastifyServerFactory } from "fastify";

export type FrontDoor = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface FrontDoorSlot {
  door: FrontDoor | null;
}

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

export function serverWithFrontDoor(slot: FrontDoorSlot): FastifyServerFactory<Server> {
  return (handler, opts) => {
    const server = createServer((opts.http ?? {}) as ServerOptions, (req, res) => {
      const door = slot.door;
      if (door === null || !door(req, res)) handler(req, res);
    });
    // What Fastify sets on a server it makes itself (its defaults are already in opts).
    const keepAliveTimeout = num(opts.keepAliveTimeout);
    if (keepAliveTimeout !== undefined) server.keepAliveTimeout = keepAliveTimeout;
    const requestTimeout = num(opts.requestTimeout);
    if (requestTimeout !== undefined) server.requestTimeout = requestTimeout;
    server.setTimeout(num(opts.connectionTimeout) ?? 0);
    const maxRequestsPerSocket = num(opts.maxRequestsPerSocket);
    if (maxRequestsPerSocket !== undefined && maxRequestsPerSocket > 0) server.maxRequestsPerSocket = maxRequestsPerSocket;
    return server;
  };
}
