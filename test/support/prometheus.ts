// The installed Prometheus tools: promtool for checks, and a throw-away Prometheus server on a
// free port with its own config and storage. A missing binary fails the test: it is a CI
// dependency (scripts/lib/ensure.sh installs it), not an optional extra.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./processes.js";
import { waitFor } from "./wait.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function promtool(args: string[], input?: string): ToolRun {
  const r = spawnSync("promtool", args, { cwd: ROOT, input, encoding: "utf8", timeout: 60_000 });
  if (r.error) throw new Error(`promtool could not run (install Debian's prometheus package): ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface PrometheusServer {
  url: string;
  /** GET /api/v1/<path>; throws unless the API answers status "success" */
  api: <T>(path: string, params?: Record<string, string>) => Promise<T>;
  output: () => string;
  stop: () => Promise<void>;
}

export async function startPrometheus(targets: { gateway: string; worker: string }, ruleFiles: string[]): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), "coupon-prom-"));
  const port = await freePort();
  const config = [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "  evaluation_interval: 1s",
    "rule_files:",
    ...ruleFiles.map((f) => `  - ${JSON.stringify(f)}`),
    "scrape_configs:",
    `  - job_name: gateway`,
    `    static_configs: [{ targets: [${JSON.stringify(targets.gateway)}] }]`,
    `  - job_name: worker`,
    `    static_configs: [{ targets: [${JSON.stringify(targets.worker)}] }]`,
  ].join("\n");
  writeFileSync(join(dir, "prometheus.yml"), config);
  const child = spawn(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) => reject(new Error(`prometheus could not start (install Debian's prometheus package): ${err.message}`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await spawned;
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`prometheus on ${port}`, async () => (await fetch(`${url}/-/ready`).catch(() => null))?.status === 200, 30_000, 100);
    const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
      const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params).toString()}`);
      const body = (await res.json()) as { status: string; data: T; error?: string };
      if (body.status !== "success") throw new Error(`${path} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
      return body.data;
    };
    return { url, api, output: () => out, stop };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${out}`);
  }
}
