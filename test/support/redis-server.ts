// A Redis server of a test's own, from the installed redis-server on a free port, for tests that
// count its commands or break it (the shared Redis carries every other test's traffic).
import { spawn } from "node:child_process";
import { Redis } from "ioredis";
import { freePort } from "./processes.js";
import { waitFor } from "./wait.js";

export interface OwnRedis {
  url: string;
  /** a plain connection for assertions */
  direct: Redis;
  stop: () => Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const direct = new Redis(url, { retryStrategy: () => 50 });
  direct.on("error", () => {}); // refused until the server listens; ping waits for the connection
  await waitFor("own redis-server", async () => (await direct.ping()) === "PONG", 10_000, 50);
  return {
    url,
    direct,
    stop: async () => {
      direct.disconnect();
      server.kill("SIGKILL");
      await exited;
    },
  };
}

/** calls per command since the server started, from INFO commandstats */
export async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1] as string, Number(m[2]));
  return calls;
}
