// Child processes of a benchmark: the gateway, the worker and the bare Fastify baseline, each
// started on a free port. Every process is tracked so a sandbox can always stop it: SIGTERM,
// then SIGKILL when it has not exited within the grace period.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const OUTPUT_KEEP = 64_000;

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns `node <script>` from the repository root; returns a handle with its output tail and stop(). */
export function startNode(name, script, env) {
  // BENCH_NODE_ARGS passes flags to the measured processes only (NODE_OPTIONS refuses some, such
  // as --cpu-prof): `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" pnpm bench ...`.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (d) => {
    out += d.toString();
    if (out.length > OUTPUT_KEEP * 2) out = out.slice(-OUTPUT_KEEP);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    child,
    startedAt: performance.now(),
    output: () => out.slice(-OUTPUT_KEEP),
    running,
    exited,
    /** SIGTERM, then SIGKILL after graceMs. Resolves with how it ended. */
    async stop(graceMs = 8_000) {
      if (running()) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => running() && child.kill("SIGKILL"), graceMs);
        const how = await exited;
        clearTimeout(timer);
        return how;
      }
      return exited;
    },
  };
}

async function waitHttp(proc, url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running()) throw new Error(`${proc.name} exited before it was ready:\n${proc.output()}`);
    const ok = await fetch(url)
      .then((r) => (r.body?.cancel(), r.status === 200))
      .catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${proc.name} not ready at ${url} after ${timeoutMs} ms:\n${proc.output()}`);
}

/** Lines of pino JSON output at warn level or above, and any non-JSON stderr lines. */
export function logProblems(proc) {
  const lines = proc.output().split("\n").filter(Boolean);
  const out = [];
  for (const line of lines) {
    try {
      const entry = JSON.parse(line);
      if (typeof entry.level === "number" && entry.level >= 40) out.push(entry.msg ?? line);
    } catch {
      out.push(line);
    }
  }
  return out;
}

export async function startGateway(sandbox, extraEnv = {}) {
  const port = await freePort();
  const proc = sandbox.track(
    startNode("gateway", "apps/gateway/dist/server.js", { ...sandbox.env, ...extraEnv, PORT: String(port), HOST: "127.0.0.1" }),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(proc, `${url}/health/ready`, 30_000);
  return Object.assign(proc, { url, port });
}

/** Starts a worker; with `waitReady: false` it returns at once (the persist benchmark times from spawn). */
export async function startWorker(sandbox, extraEnv = {}, { waitReady = true } = {}) {
  const metricsPort = await freePort();
  const proc = sandbox.track(
    startNode("worker", "apps/worker/dist/main.js", { ...sandbox.env, ...extraEnv, WORKER_METRICS_PORT: String(metricsPort) }),
  );
  if (waitReady) await waitHttp(proc, `http://127.0.0.1:${metricsPort}/health/ready`, 30_000);
  return Object.assign(proc, { metricsPort });
}

export async function startBare(sandbox) {
  const port = await freePort();
  const proc = sandbox.track(startNode("bare-fastify", "scripts/bench/bare-fastify.mjs", { PORT: String(port), HOST: "127.0.0.1" }));
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(proc, `${url}/ready`, 15_000);
  return Object.assign(proc, { url, port });
}
