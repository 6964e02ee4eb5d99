// Runs the built gateway and worker as real child processes, so tests can SIGKILL them.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** every JSON line the process wrote to stdout (its pino log), parsed, oldest first */
  logLines: () => Record<string, unknown>[];
  kill: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function start(script: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let partial = "";
  const logs: Record<string, unknown>[] = [];
  child.stdout?.on("data", (d: Buffer) => {
    const text = d.toString();
    out = (out + text).slice(-20_000);
    const parts = (partial + text).split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      if (!line.startsWith("{") || logs.length >= 200_000) continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr?.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => out,
    logLines: () => logs,
    kill: async (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

async function healthy(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null);
  return res?.status === 200;
}

export async function startWorker(env: Record<string, string>): Promise<Proc & { metricsPort: number }> {
  const metricsPort = await freePort();
  const p = start("apps/worker/dist/main.js", { ...env, WORKER_METRICS_PORT: String(metricsPort) });
  await waitFor(`worker on ${metricsPort}\n${p.output()}`, () => healthy(metricsPort), 30_000, 100).catch((e) => {
    throw new Error(`${(e as Error).message}\n${p.output()}`);
  });
  return { ...p, metricsPort };
}

export async function startGateway(env: Record<string, string>): Promise<Proc & { url: string }> {
  const port = await freePort();
  const p = start("apps/gateway/dist/server.js", { ...env, PORT: String(port), HOST: "127.0.0.1" });
  await waitFor(`gateway on ${port}`, () => healthy(port), 30_000, 100).catch((e) => {
    throw new Error(`${(e as Error).message}\n${p.output()}`);
  });
  return { ...p, url: `http://127.0.0.1:${port}` };
}
