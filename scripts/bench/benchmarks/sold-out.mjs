// sold-out: the gateway answering a policy that has run out, i.e. 409 ALREADY_ISSUED to its
// holders and 410 SOLD_OUT to everyone else, against a bare Fastify route.
// Ratio = gateway req/s ÷ bare req/s; target ≥ 0.80.
//
// In the same run, the same load against gateways without the sold-out shortcut
// (SOLD_OUT_CACHE_MS=0: every request goes to Redis): once with the rate limits at their
// defaults, once with them off. wrk sends every user from 127.0.0.1, so the per-address limit
// would answer nearly all of a Redis-bound run 429 from memory; it is at its default where the
// shortcut answers first (it never comes into play there) and off in the runs without it.
import { loadConfig } from "@coupon/config";
import { createPolicy, pressOnce } from "../lib/gateway-api.mjs";
import { warmThenMeasure } from "../lib/load.mjs";
import { logProblems, startBare, startGateway } from "../lib/processes.mjs";
import { describeInternals, scrape } from "../lib/prometheus.mjs";
import { fmt, row } from "../lib/results.mjs";
import { withSandbox } from "../lib/sandbox.mjs";
import { splitByThread, userRange, writeThreadTokenFiles } from "../lib/tokens.mjs";
import { count, describeStatuses, ms } from "../lib/wrk.mjs";

export const name = "sold-out";
export const summary = "409/410 answers of a sold-out policy vs a bare Fastify route (req/s ratio ≥ 0.80), and without the sold-out shortcut";
const TARGET = 0.8;

export async function run(opts, log) {
  return withSandbox(name, { keep: opts.keep, log }, async (sb) => {
    const notes = [];
    const load = { threads: opts.threads, connections: opts.connections, duration: opts.duration, warmup: opts.warmup, verbose: opts.verbose };

    const defaults = loadConfig({ JWT_SECRET: sb.env.JWT_SECRET });
    const atDefaults = { RATE_LIMIT_USER_PER_SEC: String(defaults.RATE_LIMIT_USER_PER_SEC), RATE_LIMIT_USER_BURST: String(defaults.RATE_LIMIT_USER_BURST) };
    const limitsNote = `user ${defaults.RATE_LIMIT_USER_PER_SEC}/s burst ${defaults.RATE_LIMIT_USER_BURST}, address ${defaults.RATE_LIMIT_IP_PER_SEC}/s burst ${defaults.RATE_LIMIT_IP_BURST}`;
    const gateway = await startGateway(sb, {
      ...atDefaults,
      RATE_LIMIT_IP_PER_SEC: String(defaults.RATE_LIMIT_IP_PER_SEC),
      RATE_LIMIT_IP_BURST: String(defaults.RATE_LIMIT_IP_BURST),
      SOLD_OUT_CACHE_MS: "1000",
    });
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
    const gw = await warmThenMeasure(sb, "gateway sold-out, with shortcut", { url: gateway.url, path, tokens }, { ...load, before: async () => (metricsBefore = await scrape(gateway.url)) }, log);
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
    await gateway.stop();

    // Without the shortcut: a fresh gateway each, the same tokens, Redis answers every request
    // that the rate limits let through.
    const withoutShortcut = async (label, env) => {
      const g = await startGateway(sb, { SOLD_OUT_CACHE_MS: "0", RATE_LIMIT_IP_PER_SEC: "0", ...env });
      const r = await warmThenMeasure(sb, label, { url: g.url, path, tokens }, load, log);
      const odd = r.requests - count(r, 409, 410, 429);
      const mix = `${label}: ${describeStatuses(r.statuses)}${odd ? ` (UNEXPECTED: ${odd.toLocaleString("en-US")} neither 409, 410 nor 429)` : ""}`;
      const lines = logProblems(g);
      await g.stop();
      return { r, mix, lines };
    };
    const noCacheDefaults = await withoutShortcut("gateway without shortcut, user limit at default", atDefaults);
    const noCacheOff = await withoutShortcut("gateway without shortcut, limits off", { RATE_LIMIT_USER_PER_SEC: "0" });
    // What the two limit scripts cost a request that goes to Redis anyway: both limits on, too
    // high to be reached, so every request runs both of them and then the admission script.
    const never = "1000000";
    const noCacheChecked = await withoutShortcut("gateway without shortcut, both limits checked but never reached", {
      RATE_LIMIT_USER_PER_SEC: never,
      RATE_LIMIT_USER_BURST: never,
      RATE_LIMIT_IP_PER_SEC: never,
      RATE_LIMIT_IP_BURST: never,
    });
    notes.push(noCacheDefaults.mix, noCacheOff.mix, noCacheChecked.mix);
    if (count(noCacheChecked.r, 429)) notes.push("UNEXPECTED: 429 answers with limits too high to reach");
    if (count(noCacheOff.r, 429)) notes.push("UNEXPECTED: 429 answers with the limits off");
    for (const { lines } of [noCacheDefaults, noCacheOff, noCacheChecked]) if (lines.length) notes.push(`a gateway without the shortcut logged ${lines.length} warn/error lines, e.g. ${lines[0]}`);
    notes.push(
      `rate limits: at their defaults (${limitsNote}) with the shortcut, where only the request that renews its memory (about one a second) reaches them; without it the address limit is off (wrk's users all come from 127.0.0.1)`,
    );

    const ratio = gw.rps / base.rps;
    const rps = (r) => r.rps;
    return {
      rows: [
        row("sold-out req/s (shortcut, limits at defaults)", { measured: fmt.rps(gw.rps), baseline: fmt.rps(base.rps), ratio: fmt.ratio(ratio), target: `≥ ${TARGET.toFixed(2)}`, met: ratio >= TARGET }),
        row("sold-out p99", {
          measured: fmt.ms(ms(gw.latency_us.p99)),
          baseline: fmt.ms(ms(base.latency_us.p99)),
          ratio: fmt.ratio(gw.latency_us.p99 / base.latency_us.p99),
        }),
        row("sold-out req/s, no shortcut, user limit at default", {
          measured: fmt.rps(rps(noCacheDefaults.r)),
          baseline: fmt.rps(base.rps),
          ratio: fmt.ratio(rps(noCacheDefaults.r) / base.rps),
        }),
        row("sold-out req/s, no shortcut, limits off", { measured: fmt.rps(rps(noCacheOff.r)), baseline: fmt.rps(base.rps), ratio: fmt.ratio(rps(noCacheOff.r) / base.rps) }),
        row("no shortcut: both limits checked ÷ limits off", {
          measured: fmt.rps(rps(noCacheChecked.r)),
          baseline: fmt.rps(rps(noCacheOff.r)),
          ratio: fmt.ratio(rps(noCacheChecked.r) / rps(noCacheOff.r)),
        }),
        row("shortcut ÷ no shortcut (limits at default)", {
          measured: fmt.rps(gw.rps),
          baseline: fmt.rps(rps(noCacheDefaults.r)),
          ratio: fmt.ratio(gw.rps / rps(noCacheDefaults.r)),
        }),
        row("shortcut ÷ no shortcut (limits off)", { measured: fmt.rps(gw.rps), baseline: fmt.rps(rps(noCacheOff.r)), ratio: fmt.ratio(gw.rps / rps(noCacheOff.r)) }),
      ],
      notes,
    };
  });
}
