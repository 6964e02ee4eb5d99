// The gateway process. SIGTERM: stop accepting connections, answer the requests in flight,
// push buffered admissions to the queue, close connections.
import { ConfigError, loadConfig } from "@coupon/config";
import { createGateway } from "./gateway.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const gateway = await createGateway(config);
  const { app } = gateway;
  await app.listen({ port: config.PORT, host: config.HOST });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, "shutting down: draining requests");
    const force = setTimeout(() => {
      app.log.error("shutdown timed out; exiting");
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    try {
      await gateway.close();
      app.log.info("stopped");
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, "error during shutdown");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : `failed to start: ${err instanceof Error ? err.message : String(err)}`;
  process.stderr.write(`gateway: ${message}\n`);
  process.exit(1);
});
