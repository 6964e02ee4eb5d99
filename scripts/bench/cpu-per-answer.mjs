// Server CPU per answer, bare Fastify against the gateway answering a sold-out policy: a figure
// that a noisy machine moves less than req/s, since it does not depend on how much of the CPU
// wrk and the neighbours leave to the server. Each round runs wrk against each process in turn
// (the order rotates) and divides the CPU time the server process used (/proc/<pid>/stat) by
// the requests wrk counted. Prints every run, then the medians.
//
//   pnpm build && node scripts/bench/cpu-per-answer.mjs [rounds=6] [seconds=4]
//
// Same load as the sold-out benchmark: half the requests from 100 holders (409), half from
// 20,000 other users (410), two wrk threads, 64 connections, tokens the gateway has seen.
// BENCH_NODE_ARGS passes Node flags to both servers (for example --perf-basic-prof).
import { readFileSync } from "node:fs";
import { createPolicy, pressOnce } from "./lib/gateway-api.mjs";
import { startBare, startGateway } from "./lib/processes.mjs";
import { withSandbox } from "./lib/sandbox.mjs";
import { splitByThread, userRange, writeThreadTokenFiles } from "./lib/tokens.mjs";
import { runWrk } from "./lib/wrk.mjs";

const rounds = Number(process.argv[2] ?? 6);
const seconds = Number(process.argv[3] ?? 4);
const load = { threads: 2, connections: 64 };

/** user + system CPU of a process so far, in µs (/proc/<pid>/stat fields 14 and 15, in clock ticks of 10 ms) */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

await withSandbox("cpu-per-answer", { log: () => {} }, async (sb) => {
  const gateway = await startGateway(sb, { SOLD_OUT_CACHE_MS: "1000" });
  const bare = await startBare(sb);
  // Sell out 100 coupons to 100 of 200 users, then mix holders and other users per wrk thread.
  const policyId = await createPolicy(gateway, sb, { totalQuantity: 100 });
  const contenders = userRange(20_000_000, 200);
  const first = await pressOnce(gateway, sb, policyId, contenders);
  const holdersOf = splitByThread(contenders.filter((_, i) => first[i] === 202), load.threads);
  const perThread = splitByThread(userRange(30_000_000, 20_000), load.threads).map((others, t) => {
    const list = [];
    let h = 0;
    for (const other of others) {
      list.push(other);
      while (holdersOf[t].length && Math.random() < 0.5) list.push(holdersOf[t][h++ % holdersOf[t].length]);
    }
    return list;
  });
  const tokens = await writeThreadTokenFiles(sb, "cpu-per-answer", perThread);
  const variants = [
    { name: "bare Fastify", proc: bare, path: "/bare" },
    { name: "gateway, sold out", proc: gateway, path: `/policies/${policyId}/issue` },
  ];
  // Warm-up: the JIT, and the gateway's token and holder memories.
  for (const v of variants) await runWrk(sb, { url: v.proc.url, path: v.path, tokens, ...load, duration: 3 });

  const perAnswer = new Map(variants.map((v) => [v.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const v of variants.map((_, i) => variants[(i + r) % variants.length])) {
      const before = cpuMicros(v.proc.child.pid);
      const w = await runWrk(sb, { url: v.proc.url, path: v.path, tokens, ...load, duration: seconds });
      const us = (cpuMicros(v.proc.child.pid) - before) / w.requests;
      perAnswer.get(v.name).push(us);
      console.log(`round ${r + 1}/${rounds}  ${v.name.padEnd(18)} ${Math.round(w.rps).toLocaleString("en-US").padStart(7)} req/s  ${us.toFixed(1)} µs CPU per answer  ${JSON.stringify(w.statuses)}`);
    }
  }
  const [b, g] = variants.map((v) => median(perAnswer.get(v.name)));
  console.log(`median CPU per answer: bare Fastify ${b.toFixed(1)} µs, gateway ${g.toFixed(1)} µs; bare ÷ gateway ${(b / g).toFixed(2)}`);
});
