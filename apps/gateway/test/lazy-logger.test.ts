import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { lazyChildLogger } from "../src/plugins/lazy-logger.js";

describe("lazyChildLogger", () => {
  it("logs with the request id when a level is enabled, and builds nothing otherwise", async () => {
    const lines: string[] = [];
    const app = Fastify({
      logger: { level: "info", stream: { write: (line: string) => void lines.push(line) } },
      disableRequestLogging: true,
      childLoggerFactory: (logger, bindings, options) => lazyChildLogger(logger, bindings, options),
    });
    app.get("/info", async (request) => {
      request.log.info({ extra: 1 }, "hello");
      request.log.debug("hidden");
      return { level: request.log.level };
    });
    const res = await app.inject({ url: "/info" });
    expect(res.json()).toEqual({ level: "info" });
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ msg: "hello", extra: 1, reqId: expect.any(String) });
    await app.close();
  });
});
