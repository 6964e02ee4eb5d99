// The worker's small HTTP face: Prometheus scrapes /metrics, orchestrators probe /health/*.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export function startMetricsServer(
  registry: Registry,
  port: number,
  isReady: () => Promise<boolean>,
): Promise<Server> {
  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    if (req.method !== "GET") {
      res.writeHead(405).end();
    } else if (url === "/metrics") {
      registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (url === "/health/live") {
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    } else if (url === "/health/ready") {
      isReady().then(
        (ok) =>
          res
            .writeHead(ok ? 200 : 503, { "content-type": "application/json" })
            .end(JSON.stringify({ status: ok ? "ok" : "unavailable" })),
        () => res.writeHead(503).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve(server));
  });
}
