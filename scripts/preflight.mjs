// Says plainly when Redis or PostgreSQL cannot be reached, and how to start them.
import net from "node:net";

function target(url, defaultPort) {
  const u = new URL(url);
  return { host: u.hostname || "127.0.0.1", port: Number(u.port || defaultPort) };
}

function reachable({ host, port }) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}

const checks = [
  // On a Redis Cluster the first seed node stands for it (the client finds the others from it).
  process.env.REDIS_CLUSTER_NODES
    ? ["Redis", target(`redis://${process.env.REDIS_CLUSTER_NODES.split(",")[0].trim()}`, 6379), "REDIS_CLUSTER_NODES"]
    : ["Redis", target(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", 6379), "REDIS_URL"],
  ["PostgreSQL", target(process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/coupon", 5432), "DATABASE_URL"],
];
let ok = true;
for (const [name, t, variable] of checks) {
  if (!(await reachable(t))) {
    ok = false;
    console.error(`✗ ${name} is not reachable at ${t.host}:${t.port} (${variable}).`);
  }
}
if (!ok) {
  console.error("  Start them with `docker compose up -d redis postgres` (docker-compose.yml in this folder),");
  console.error("  or point REDIS_URL / DATABASE_URL at running servers, then run the command again.");
  process.exit(1);
}
