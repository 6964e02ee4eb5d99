// Runs wrk with wrk-tokens.lua and returns what its done() reported, plus requests/s.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("../wrk-tokens.lua", import.meta.url));
export const WRK = process.env.BENCH_WRK ?? "wrk";

/**
 * @param {object} o
 * @param {string} o.url       base URL, e.g. http://127.0.0.1:3000
 * @param {string} o.path      request path
 * @param {string} o.tokens    token file prefix (lib/tokens.mjs)
 * @param {number} o.threads
 * @param {number} o.connections
 * @param {number} o.duration  seconds
 */
export async function runWrk(sandbox, o) {
  const args = [
    `-t${o.threads}`,
    `-c${o.connections}`,
    `-d${o.duration}s`,
    "--timeout",
    `${o.timeoutSeconds ?? 10}s`,
    ...(o.latency ? ["--latency"] : []),
    "-s",
    SCRIPT,
    `${o.url}${o.path}`,
    "--",
    o.tokens,
    o.method ?? "POST",
    o.path,
  ];
  const child = spawn(WRK, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const handle = sandbox.track({
    name: "wrk",
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited.catch(() => {});
    },
  });
  const { code, signal } = await exited;
  void handle;
  const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (code !== 0 || !line) {
    throw new Error(`wrk ${args.join(" ")} failed (code ${code}, signal ${signal}):\n${err}\n${out}`);
  }
  const report = JSON.parse(line.slice("BENCH_JSON ".length));
  report.rps = report.requests / (report.duration_us / 1e6);
  report.socketErrors = report.errors.connect + report.errors.read + report.errors.write + report.errors.timeout;
  report.text = out.replace(/^BENCH_JSON .*\n?/m, "");
  return report;
}

/** "202: 1,234, 409: 56" */
export function describeStatuses(statuses) {
  const keys = Object.keys(statuses).sort();
  return keys.length ? keys.map((k) => `${k}: ${statuses[k].toLocaleString("en-US")}`).join(", ") : "none";
}

export function count(report, ...statuses) {
  return statuses.reduce((sum, s) => sum + (report.statuses[String(s)] ?? 0), 0);
}

export const ms = (us) => us / 1000;
