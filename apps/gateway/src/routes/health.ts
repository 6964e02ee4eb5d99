// Liveness says the process runs; readiness says it can serve (Redis and PostgreSQL answer).
import type { FastifyInstance } from "fastify";

export async function healthRoutes(
  app: FastifyInstance,
  opts: { checks: Record<string, () => Promise<unknown>>; isDraining: () => boolean },
): Promise<void> {
  app.get("/health/live", { schema: { tags: ["ops"], hide: true } }, async () => ({ status: "ok" }));
  app.get("/health/ready", { schema: { tags: ["ops"], hide: true } }, async (_request, reply) => {
    const results: Record<string, string> = {};
    let ok = !opts.isDraining();
    await Promise.all(
      Object.entries(opts.checks).map(async ([name, check]) => {
        try {
          await check();
          results[name] = "ok";
        } catch {
          results[name] = "down";
          ok = false;
        }
      }),
    );
    return reply.code(ok ? 200 : 503).send({ status: ok ? "ok" : "unavailable", checks: results });
  });
}
