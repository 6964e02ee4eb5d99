// sold-out: the gateway answering a policy that has run out, i.e. 409 ALREADY_ISSUED to its
// holders and 410 SOLD_OUT to everyone else, against a bare Fastify route.
// Ratio = gateway req/s ÷ bare req/s; target ≥ 0.80.
import { createPolicy, pressOnce } from "../lib/gateway-api.mjs";
import { warmThenMeasure } from "../lib/load.mjs";
import { logProblems, startBare, startGateway } from "../lib/processes.mjs";
import { describeInternals, scrape } from "../lib/prometheus.mjs";
import { fmt, row } from "../lib/results.mjs";
import { withSandbox } from "../lib/sandbox.mjs";
import { splitByThread, userRange, writeThreadTokenFiles } from "../lib/tokens.mjs";
import { count, ms } from "../lib/wrk.mjs";

export const name = "sold-out";
export const summary = "409/410 answers of a sold-out policy vs a bare Fastify route (req/s ratio ≥ 0.80)";
const TARGET = 0.8;

export async function run(opts, log) {
  return withSandbox(name, { keep: opts.keep, log }, async (sb) => {
    const notes = [];
    const load = { threads: opts.threads, connections: opts.connections, duration: opts.duration, warmup: opts.warmup, verbose: opts.verbose };

    const gateway = await startGateway(sb);
    const stock = opts.soldOutStock;
    const policyId = await createPolicy(gateway, sb, { totalQuantity: stock });
    // Exhaust the stock: twice as many users as coupons press once.
    const contenders = userRange(20_000_000, stock * 2);
    const first = await pressOnce(gateway, sb, policyId, contenders);
    const holders = contenders.filter((_, i) => first[i] === 202);
    const refused = first.filter((s) => s === 410).length;
    if (holders.length !== stock || refused !== stock) {
      notes.push(`UNEXPECTED while exhausting: ${holders.length} of ${stock * 2} users admitted (want ${stock}), ${refused} sold out (want ${stock}), others: ${first.filter((s) => s !== 202 && s !== 410).join(",") || "none"}`);
    }

    // The mix: a share of requests from holders (409), the rest from users who never got one
    // (410), shuffled. Holders and others are dealt to the threads, so no two threads send the
    // same user.
    const others = userRange(30_000_000, opts.soldOutUsers);
    const holdersOf = splitByThread(holders, opts.threads);
    const othersOf = splitByThread(others, opts.threads);
    const perThread = othersOf.map((own, t) => {
      const list = [];
      let h = 0;
      for (const other of own) {
        // After each other user come share/(1-share) holders on average: holders make up `share`.
        list.push(other);
        while (holdersOf[t].length && Math.random() < opts.holderShare) list.push(holdersOf[t][h++ % holdersOf[t].length]);
      }
      return list;
    });
    const tokens = await writeThreadTokenFiles(sb, "sold-out", perThread);
    const path = `/policies/${policyId}/issue`;
    let metricsBefore = new Map();

    const bare = await startBare(sb);
    const base = await warmThenMeasure(sb, "bare Fastify", { url: bare.url, path: "/bare", tokens }, load, log);
    await bare.stop();
    const gw = await warmThenMeasure(sb, "gateway sold-out", { url: gateway.url, path, tokens }, { ...load, before: async () => (metricsBefore = await scrape(gateway.url)) }, log);
    const internals = describeInternals(metricsBefore, await scrape(gateway.url));
    if (internals) notes.push(`inside the gateway during the run (its /metrics): ${internals}`);

    const expected = count(gw, 409, 410);
    if (expected !== gw.requests) {
      notes.push(`UNEXPECTED: ${(gw.requests - expected).toLocaleString("en-US")} of ${gw.requests.toLocaleString("en-US")} gateway answers were neither 409 nor 410`);
    }
    if (gw.socketErrors) notes.push(`gateway socket errors: ${JSON.stringify(gw.errors)}`);
    notes.push(
      `mix: ${(count(gw, 409) / Math.max(1, gw.requests) * 100).toFixed(0)}% 409 from ${holders.length} holders, ` +
        `${(count(gw, 410) / Math.max(1, gw.requests) * 100).toFixed(0)}% 410 from ${others.length.toLocaleString("en-US")} other users (tokens cycle; the gateway's JWT cache sees them again)`,
    );
    const problems = logProblems(gateway);
    if (problems.length) notes.push(`gateway logged ${problems.length} warn/error lines, e.g. ${problems[0]}`);

    const ratio = gw.rps / base.rps;
    return {
      rows: [
        row("sold-out req/s", { measured: fmt.rps(gw.rps), baseline: fmt.rps(base.rps), ratio: fmt.ratio(ratio), target: `≥ ${TARGET.toFixed(2)}`, met: ratio >= TARGET }),
        row("sold-out p99", {
          measured: fmt.ms(ms(gw.latency_us.p99)),
          baseline: fmt.ms(ms(base.latency_us.p99)),
          ratio: fmt.ratio(gw.latency_us.p99 / base.latency_us.p99),
        }),
      ],
      notes,
    };
  });
}
