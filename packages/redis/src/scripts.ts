// Loads the Lua commands in ../lua onto an ioredis client. Each file is named verbNoun-N.lua,
// N being its number of KEYS; ioredis then runs it with EVALSHA and falls back to EVAL.
import { readFileSync, readdirSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";

export type RedisClient = Redis | Cluster;

const LUA_DIR = new URL("../lua/", import.meta.url);

export const SCRIPT_NAMES = [
  "admitRequest",
  "syncPolicy",
  "rebuildPolicy",
  "completeAdmissions",
  "releaseAdmission",
  "raiseAdmitted",
  "reserveDirect",
  "settleDirect",
  "rateLimit",
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;
export type ScriptedClient = RedisClient & Record<ScriptName, ScriptFn>;

interface LoadedScript {
  name: ScriptName;
  numberOfKeys: number;
  lua: string;
}

let cache: LoadedScript[] | undefined;

function loadScripts(): LoadedScript[] {
  if (cache) return cache;
  const files = readdirSync(LUA_DIR).filter((f) => f.endsWith(".lua"));
  cache = SCRIPT_NAMES.map((name) => {
    const file = files.find((f) => f.startsWith(`${name}-`));
    if (!file) throw new Error(`missing Lua script for ${name}`);
    const numberOfKeys = Number(file.slice(name.length + 1, -".lua".length));
    return { name, numberOfKeys, lua: readFileSync(new URL(file, LUA_DIR), "utf8") };
  });
  return cache;
}

/** Defines every script as a command on the client (idempotent per client). */
export function withScripts(client: RedisClient): ScriptedClient {
  const scripted = client as ScriptedClient;
  for (const s of loadScripts()) {
    if (typeof (scripted as unknown as Record<string, unknown>)[s.name] !== "function") {
      client.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
    }
  }
  return scripted;
}
