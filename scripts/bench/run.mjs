#!/usr/bin/env node
// `pnpm bench`: runs the benchmarks one after another, each in its own sandbox (database, Redis
// prefix, processes), and prints one table. See scripts/bench/README.md.
//
//   pnpm bench                          all seven
//   pnpm bench -- --only admit          one (or a comma-separated list)
//   pnpm bench -- --duration 20         longer wrk runs
//   pnpm bench -- --help
import { parseArgs } from "node:util";
import * as admit from "./benchmarks/admit.mjs";
import * as directBatch from "./benchmarks/direct-batch.mjs";
import * as expiry from "./benchmarks/expiry.mjs";
import * as flashSale from "./benchmarks/flash-sale.mjs";
import * as persist from "./benchmarks/persist.mjs";
import * as release from "./benchmarks/release.mjs";
import * as soldOut from "./benchmarks/sold-out.mjs";
import { dropBenchDatabase, leftoverDatabases } from "./lib/database.mjs";
import { checkEnvironment } from "./lib/preflight.mjs";
import { deletePrefix, leftoverPrefixes } from "./lib/redis-prefix.mjs";
import { ROOT } from "./lib/processes.mjs";
import { failedRow } from "./lib/results.mjs";
import { closeAll } from "./lib/sandbox.mjs";
import { renderTable } from "./lib/table.mjs";

const BENCHMARKS = [soldOut, admit, persist, flashSale, expiry, release, directBatch];

const OPTIONS = {
  only: { type: "string", help: "NAME[,NAME]: run only these benchmarks" },
  list: { type: "boolean", help: "list the benchmarks and exit" },
  duration: { type: "string", default: "10", help: "seconds of each measured wrk run (admit)" },
  warmup: { type: "string", default: "2", help: "seconds of the unmeasured wrk run before each measured one (0: none)" },
  threads: { type: "string", default: "2", help: "wrk threads (all benchmarks)" },
  connections: { type: "string", default: "64", help: "wrk connections (sold-out, admit)" },
  "sold-out-stock": { type: "string", default: "100", help: "coupons of the sold-out policy (= holders answered 409)" },
  "sold-out-users": { type: "string", default: "20000", help: "users without a coupon (answered 410)" },
  "sold-out-rounds": { type: "string", default: "3", help: "sold-out: interleaved rounds, each measuring every variant once" },
  "sold-out-round-duration": { type: "string", default: "5", help: "sold-out: seconds of each variant's measured wrk run per round" },
  "holder-share": { type: "string", default: "0.5", help: "share of sold-out requests sent by holders (409)" },
  "persist-n": { type: "string", default: "100000", help: "admissions the persist benchmark pre-loads" },
  "persist-poll-ms": { type: "string", default: "20", help: "how often the persist benchmark counts the coupons" },
  "flash-users": { type: "string", default: "100000", help: "distinct users of the flash sale" },
  "flash-coupons": { type: "string", default: "10000", help: "coupons of the flash sale" },
  "flash-connections": { type: "string", default: "256", help: "wrk connections of the flash sale" },
  "flash-threads": { type: "string", help: "wrk threads of the flash sale (default: --threads)" },
  "flash-duration": { type: "string", default: "10", help: "seconds of the flash sale's wrk run" },
  "expiry-n": { type: "string", default: "1000000", help: "due coupons the expiry benchmark expires" },
  "expiry-burst-duration": { type: "string", default: "20", help: "seconds of each FCFS burst of the expiry benchmark" },
  "release-n": { type: "string", default: "100000", help: "stale reservations the release benchmark releases" },
  "direct-n": { type: "string", default: "1000000", help: "users of the direct-batch benchmark's one batch" },
  keep: { type: "boolean", default: false, help: "keep databases, Redis keys and token files (for debugging)" },
  cleanup: { type: "boolean", help: "drop coupon_bench_* databases and bench-* Redis keys left by killed runs, then exit" },
  verbose: { type: "boolean", default: false, help: "print wrk's own output too" },
  strict: { type: "boolean", default: false, help: "exit 1 when a target is missed (not only on errors)" },
  help: { type: "boolean", short: "h", help: "this text" },
};

function usage() {
  const lines = Object.entries(OPTIONS).map(([k, o]) => `  --${k}${o.type === "string" ? " X" : ""}`.padEnd(26) + `${o.help}${o.default !== undefined && o.type === "string" ? ` (default ${o.default})` : ""}`);
  return `usage: pnpm bench [-- options]\n\n${lines.join("\n")}\n\nbenchmarks:\n${BENCHMARKS.map((b) => `  ${b.name.padEnd(12)}${b.summary}`).join("\n")}`;
}

function parseOptions() {
  const argv = process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--"));
  const { values } = parseArgs({ args: argv, options: Object.fromEntries(Object.entries(OPTIONS).map(([k, { help, ...o }]) => [k, o])), strict: true });
  const num = (k, { min = 0, integer = true } = {}) => {
    const v = Number(values[k]);
    if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) throw new Error(`--${k} must be ${integer ? "an integer" : "a number"} ≥ ${min}, got ${values[k]}`);
    return v;
  };
  const opts = {
    duration: num("duration", { min: 1 }),
    warmup: num("warmup"),
    threads: num("threads", { min: 1 }),
    connections: num("connections", { min: 1 }),
    soldOutStock: num("sold-out-stock", { min: 1 }),
    soldOutUsers: num("sold-out-users", { min: 1 }),
    soldOutRounds: num("sold-out-rounds", { min: 1 }),
    soldOutRoundDuration: num("sold-out-round-duration", { min: 1 }),
    holderShare: num("holder-share", { integer: false }),
    persistN: num("persist-n", { min: 1 }),
    persistPollMs: num("persist-poll-ms", { min: 1 }),
    flashUsers: num("flash-users", { min: 1 }),
    flashCoupons: num("flash-coupons", { min: 1 }),
    flashConnections: num("flash-connections", { min: 1 }),
    flashDuration: num("flash-duration", { min: 1 }),
    flashThreads: values["flash-threads"] === undefined ? num("threads", { min: 1 }) : num("flash-threads", { min: 1 }),
    expiryN: num("expiry-n", { min: 1 }),
    expiryBurstDuration: num("expiry-burst-duration", { min: 1 }),
    releaseN: num("release-n", { min: 1 }),
    directN: num("direct-n", { min: 1 }),
    keep: values.keep,
    verbose: values.verbose,
    strict: values.strict,
  };
  if (opts.holderShare >= 1) throw new Error("--holder-share must be below 1");
  if (opts.connections < opts.threads || opts.flashConnections < opts.flashThreads) throw new Error("wrk needs at least one connection per thread");
  let selected = BENCHMARKS;
  if (values.only) {
    const names = values.only.split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
    if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(", ")}; known: ${BENCHMARKS.map((b) => b.name).join(", ")}`);
    selected = BENCHMARKS.filter((b) => names.includes(b.name));
  }
  return { values, opts, selected };
}

let parsed;
try {
  parsed = parseOptions();
} catch (err) {
  console.error(`bench: ${err.message}\n\n${usage()}`);
  process.exit(2);
}
if (parsed.values.help) {
  console.log(usage());
  process.exit(0);
}
if (parsed.values.list) {
  for (const b of BENCHMARKS) console.log(`${b.name.padEnd(12)}${b.summary}`);
  process.exit(0);
}

if (parsed.values.cleanup) {
  const names = await leftoverDatabases();
  for (const db of names) await dropBenchDatabase(db);
  const prefixes = await leftoverPrefixes();
  for (const p of prefixes) await deletePrefix(p);
  console.log(`dropped ${names.length} databases${names.length ? ` (${names.join(", ")})` : ""}, deleted the keys of ${prefixes.length} Redis prefixes`);
  process.exit(0);
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\nbench: ${signal}: stopping processes and dropping benchmark databases…`);
    closeAll().finally(() => process.exit(130));
  });
}

const log = (line) => console.log(line);
try {
  await checkEnvironment(ROOT);
} catch (err) {
  console.error(`bench: ${err.message}`);
  process.exit(1);
}

const { opts, selected } = parsed;
const rows = [];
const notes = [];
let errors = 0;
const started = performance.now();
for (const bench of selected) {
  const t0 = performance.now();
  log(`\n▶ ${bench.name}: ${bench.summary}`);
  try {
    const result = await bench.run(opts, log);
    rows.push(...result.rows);
    for (const note of result.notes ?? []) notes.push(`${bench.name}: ${note}`);
  } catch (err) {
    errors++;
    rows.push(failedRow(bench.name, err));
    notes.push(`${bench.name}: FAILED: ${err?.stack ?? err}`);
    log(`  FAILED: ${err?.message ?? err}`);
  }
  log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

console.log(`\nBenchmarks (${((performance.now() - started) / 1000).toFixed(0)} s, ${opts.threads} wrk threads; ratios against baselines measured in this run)\n`);
console.log(renderTable(rows));
if (notes.length) {
  console.log("\nNotes");
  for (const n of notes) console.log(`  - ${n}`);
}
const missed = rows.filter((r) => r.verdict === "MISSED").length;
process.exitCode = errors > 0 || (opts.strict && missed > 0) ? 1 : 0;
