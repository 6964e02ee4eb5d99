// The baseline: the cheapest Fastify route there is, in its own process, logger off.
// Used as `node scripts/bench/bare-fastify.mjs` with PORT (and HOST) in the environment.
import Fastify from "fastify";

const app = Fastify({ logger: false });
app.post("/bare", async () => ({ ok: true }));
app.get("/ready", async () => ({ ok: true }));

await app.listen({ port: Number(process.env.PORT ?? 3100), host: process.env.HOST ?? "127.0.0.1" });
const stop = () => app.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
