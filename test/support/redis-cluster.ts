// A throwaway Redis Cluster of three masters, started from the installed redis-server on free
// ports, for running the integration tests against a cluster. stop() kills the servers and
// removes their directory.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./processes.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);

export interface RedisClusterHandle {
  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3", as REDIS_CLUSTER_NODES takes it */
  nodes: string;
  ports: number[];
  stop: () => Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 10_000 });
  return stdout;
}

export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), "coupon-redis-cluster-"));
  const servers: ChildProcess[] = [];
  const ports: number[] = [];
  // Should the test process end without calling stop() (a crash, Ctrl-C), the servers go with it.
  const killNow = () => {
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", killNow);
  const stop = async () => {
    process.off("exit", killNow);
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.exitCode !== null || s.signalCode !== null) return resolve();
            s.once("exit", () => resolve());
            s.kill("SIGKILL");
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      // The cluster bus gets a free port of its own: port + 10000 may be taken or past 65535.
      const [port, busPort] = [await freePort(), await freePort()];
      const server = spawn(
        "redis-server",
        [
          "--port", String(port),
          "--bind", "127.0.0.1",
          "--cluster-enabled", "yes",
          "--cluster-port", String(busPort),
          "--cluster-config-file", join(dir, `nodes-${port}.conf`),
          "--cluster-node-timeout", "5000",
          "--save", "",
          "--appendonly", "no",
          "--dir", dir,
          "--logfile", join(dir, `redis-${port}.log`),
        ],
        { stdio: "ignore" },
      );
      servers.push(server);
      ports.push(port);
    }
    for (const port of ports) await waitFor(`redis-server on ${port}`, async () => (await cli(port, "ping")).trim() === "PONG", 10_000, 50);
    await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], {
      timeout: 30_000,
    });
    await waitFor(
      "the cluster to agree on its slots",
      async () => {
        for (const port of ports) {
          if (!(await cli(port, "cluster", "info")).includes("cluster_state:ok")) return false;
        }
        const { stdout } = await run("redis-cli", ["--cluster", "check", `127.0.0.1:${ports[0]}`], { timeout: 10_000 });
        return stdout.includes("All nodes agree about slots configuration") && stdout.includes("All 16384 slots covered");
      },
      30_000,
      200,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: ports.map((p) => `127.0.0.1:${p}`).join(","), ports, stop };
}
