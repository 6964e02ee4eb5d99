// A warm-up wrk run (not measured) followed by the measured one, with the same settings, and a
// one-line progress report of each.
import { ms, runWrk } from "./wrk.mjs";
import { describeStatuses } from "./wrk.mjs";
import { fmt } from "./results.mjs";

/**
 * @param target { url, path, tokens }            what to load
 * @param load   { threads, connections, duration, warmup, latency, verbose?, warmupTokens?, warmupPath?,
 *                 before?: called right before the measured run starts }
 */
export async function warmThenMeasure(sandbox, label, target, load, log) {
  if (load.warmup > 0) {
    const w = await runWrk(sandbox, {
      ...target,
      path: load.warmupPath ?? target.path,
      tokens: load.warmupTokens ?? target.tokens,
      threads: load.threads,
      connections: load.connections,
      duration: load.warmup,
    });
    log(`  ${label} warm-up: ${fmt.rps(w.rps)} (${describeStatuses(w.statuses)})`);
  }
  return measure(sandbox, label, target, load, log);
}

export async function measure(sandbox, label, target, load, log) {
  await load.before?.();
  const r = await runWrk(sandbox, {
    ...target,
    threads: load.threads,
    connections: load.connections,
    duration: load.duration,
    latency: load.latency,
  });
  log(
    `  ${label}: ${fmt.rps(r.rps)}, p50 ${fmt.ms(ms(r.latency_us.p50))}, p99 ${fmt.ms(ms(r.latency_us.p99))}` +
      ` [-t${load.threads} -c${load.connections} -d${load.duration}s] (${describeStatuses(r.statuses)}` +
      `${r.socketErrors ? `; socket errors ${JSON.stringify(r.errors)}` : ""})`,
  );
  if (load.verbose) log(r.text.replace(/^/gm, "    | "));
  return r;
}
