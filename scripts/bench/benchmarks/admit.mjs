// admit: the gateway's admit path (every request a new user: 202, admitted and enqueued)
// against a bare Fastify route. No worker runs: only the gateway's throughput is measured.
// Ratio = gateway req/s ÷ bare req/s; target ≥ 0.50.
import { createPolicy } from "../lib/gateway-api.mjs";
import { openRedisView } from "../lib/issue-queue.mjs";
import { measure, warmThenMeasure } from "../lib/load.mjs";
import { logProblems, startBare, startGateway } from "../lib/processes.mjs";
import { describeInternals, scrape } from "../lib/prometheus.mjs";
import { fmt, row } from "../lib/results.mjs";
import { withSandbox } from "../lib/sandbox.mjs";
import { userRange, writeTokenFiles } from "../lib/tokens.mjs";
import { count, describeStatuses, ms, runWrk } from "../lib/wrk.mjs";

export const name = "admit";
export const summary = "202 admit-and-enqueue path, a new user per request, no worker, vs a bare Fastify route (req/s ratio ≥ 0.50)";
const TARGET = 0.5;
const STOCK = 50_000_000;
const BARE_TOKENS = 20_000;
const WARMUP_TOKENS = 60_000;

export async function run(opts, log) {
  return withSandbox(name, { keep: opts.keep, log }, async (sb) => {
    const notes = ["no worker ran during the measurement: the admissions wait in the queue, only the gateway is measured"];
    const load = { threads: opts.threads, connections: opts.connections, duration: opts.duration, warmup: opts.warmup, verbose: opts.verbose };

    // Baseline first: the bare route ignores the tokens, a small cycled set has the same size.
    const bareTokens = await writeTokenFiles(sb, "bare", userRange(10_000_000, BARE_TOKENS), opts.threads);
    const bare = await startBare(sb);
    const base = await warmThenMeasure(sb, "bare Fastify", { url: bare.url, path: "/bare", tokens: bareTokens }, load, log);
    await bare.stop();

    const gateway = await startGateway(sb);
    const policyId = await createPolicy(gateway, sb, { totalQuantity: STOCK });
    const path = `/policies/${policyId}/issue`;
    const view = await openRedisView(sb);
    try {
      // Warm-up with users of their own, which also tells how many fresh tokens the measured
      // run needs: 2 × the warm-up's admit rate × duration, never more than the bare rate allows.
      let estimate = base.rps * 0.5;
      if (opts.warmup > 0) {
        const warmTokens = await writeTokenFiles(sb, "admit-warmup", userRange(20_000_000, WARMUP_TOKENS), opts.threads);
        const w = await runWrk(sb, { url: gateway.url, path, tokens: warmTokens, threads: opts.threads, connections: opts.connections, duration: opts.warmup });
        log(`  gateway admit warm-up: ${fmt.rps(w.rps)} (${describeStatuses(w.statuses)})`);
        estimate = count(w, 202) / (w.duration_us / 1e6);
      }
      const wanted = Math.ceil(Math.min(base.rps * 1.1, Math.max(estimate * 2, 2_000)) * opts.duration) + 10_000;
      const t0 = performance.now();
      const tokens = await writeTokenFiles(sb, "admit", userRange(100_000_000, wanted), opts.threads);
      log(`  signed ${wanted.toLocaleString("en-US")} fresh user tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

      const before = await view.admitted(policyId);
      const metricsBefore = await scrape(gateway.url);
      const gw = await measure(sb, "gateway admit", { url: gateway.url, path, tokens }, load, log);
      const internals = describeInternals(metricsBefore, await scrape(gateway.url));
      if (internals) notes.push(`inside the gateway during the run (its /metrics): ${internals}`);
      await new Promise((r) => setTimeout(r, 300)); // let the last batch reach the queue
      const after = await view.admitted(policyId);

      const ok = count(gw, 202);
      const non202 = gw.requests - ok;
      const admittedDuring = after - before;
      notes.push(
        `${gw.requests.toLocaleString("en-US")} answers, ${ok.toLocaleString("en-US")} were 202, ${non202.toLocaleString("en-US")} were not` +
          `${non202 ? ` (${describeStatuses(gw.statuses)})` : ""}; Redis admitted ${admittedDuring.toLocaleString("en-US")} during the run` +
          ` (${(admittedDuring - ok).toLocaleString("en-US")} more than wrk counted: answers in flight when wrk stopped)`,
      );
      if (gw.wraps) notes.push(`UNEXPECTED: the token file ran out (${gw.wraps} wraps); repeated users were answered 409: raise the token estimate`);
      if (gw.socketErrors) notes.push(`gateway socket errors: ${JSON.stringify(gw.errors)}`);

      // Every admission must be in the queue: stop the gateway (it drains its batcher), count.
      await gateway.stop();
      const q = await view.queuedAdmissions();
      const total = await view.admitted(policyId);
      const inQueue = q.byPolicy.get(String(policyId)) ?? 0;
      notes.push(
        `queue after the gateway stopped: ${q.jobs.toLocaleString("en-US")} jobs carrying ${inQueue.toLocaleString("en-US")} admissions` +
          ` (${(inQueue / Math.max(1, q.jobs)).toFixed(1)} per job) for ${total.toLocaleString("en-US")} admitted in Redis` +
          `${inQueue === total ? "" : ` — UNEXPECTED: ${(total - inQueue).toLocaleString("en-US")} admitted but not enqueued`}`,
      );
      const problems = logProblems(gateway);
      if (problems.length) notes.push(`gateway logged ${problems.length} warn/error lines, e.g. ${problems[0]}`);

      const ratio = gw.rps / base.rps;
      return {
        rows: [
          row("admit req/s", { measured: fmt.rps(gw.rps), baseline: fmt.rps(base.rps), ratio: fmt.ratio(ratio), target: `≥ ${TARGET.toFixed(2)}`, met: ratio >= TARGET }),
          row("admit p99", {
            measured: fmt.ms(ms(gw.latency_us.p99)),
            baseline: fmt.ms(ms(base.latency_us.p99)),
            ratio: fmt.ratio(gw.latency_us.p99 / base.latency_us.p99),
          }),
        ],
        notes,
      };
    } finally {
      await view.close();
    }
  });
}
