// sold-out: the gateway answering a policy that has run out, i.e. 409 ALREADY_ISSUED to its
// holders and 410 SOLD_OUT to everyone else, against a bare Fastify route.
// Ratio = gateway req/s ÷ bare req/s; target ≥ 0.80.
//
// In the same run, the same load against gateways without the sold-out shortcut
// (SOLD_OUT_CACHE_MS=0: every request goes to Redis): with the per-user limit at its default,
// with the limits off, and with both limits on but never reached. wrk sends every user from
// 127.0.0.1, so the per-address limit would answer nearly all of a Redis-bound run 429 from
// memory; it is at its default where the shortcut answers first (it never comes into play there)
// and off in the runs without it (except the "never reached" one).
//
// The machine is noisy and a run's figure drifts with what else the cores do, so the variants
// are not measured one after another but interleaved: every process is started first, then
// several short rounds each measure every variant once (the order rotates from round to round,
// so none is always first or last). Each figure is the median over the rounds, with its spread;
// ratios are medians of the per-round ratios (both sides measured seconds apart).
import { loadConfig } from "@coupon/config";
import { Redis } from "ioredis";
import { createPolicy, pressOnce } from "../lib/gateway-api.mjs";
import { warmThenMeasure } from "../lib/load.mjs";
import { logProblems, startBare, startGateway } from "../lib/processes.mjs";
import { describeInternals, scrape } from "../lib/prometheus.mjs";
import { redisUrl } from "../lib/redis-prefix.mjs";
import { fmt, row } from "../lib/results.mjs";
import { withSandbox } from "../lib/sandbox.mjs";
import { splitByThread, userRange, writeThreadTokenFiles } from "../lib/tokens.mjs";
import { count, describeStatuses, ms } from "../lib/wrk.mjs";

export const name = "sold-out";
export const summary = "409/410 answers of a sold-out policy vs a bare Fastify route (req/s ratio ≥ 0.80), and without the sold-out shortcut";
const TARGET = 0.8;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const spread = (xs, f) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
const int = (v) => Math.round(v).toLocaleString("en-US");

/** Calls per Redis command since the server started (INFO commandstats). */
async function commandCalls(redis) {
  const calls = new Map();
  for (const line of (await redis.info("commandstats")).split("\n")) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) calls.set(m[1], Number(m[2]));
  }
  return calls;
}

function callsDelta(before, after) {
  const delta = new Map();
  for (const [cmd, n] of after) if (n - (before.get(cmd) ?? 0) > 0) delta.set(cmd, n - (before.get(cmd) ?? 0));
  return delta;
}

export async function run(opts, log) {
  return withSandbox(name, { keep: opts.keep, log }, async (sb) => {
    const notes = [];
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

    // Every process up front; between its turns a process idles.
    const never = "1000000";
    const noShortcut = (env) => startGateway(sb, { SOLD_OUT_CACHE_MS: "0", RATE_LIMIT_IP_PER_SEC: "0", ...env });
    const variants = [
      { key: "bare", label: "bare Fastify", proc: await startBare(sb), path: "/bare" },
      { key: "shortcut", label: "gateway with shortcut, limits at defaults", proc: gateway, path },
      { key: "userDefault", label: "gateway without shortcut, user limit at default", proc: await noShortcut(atDefaults), path },
      { key: "off", label: "gateway without shortcut, limits off", proc: await noShortcut({ RATE_LIMIT_USER_PER_SEC: "0" }), path },
      // What the two limit scripts cost a request that goes to Redis anyway: both limits on, too
      // high to be reached, so every request runs both of them and then the admission script.
      {
        key: "checked",
        label: "gateway without shortcut, both limits checked but never reached",
        proc: await noShortcut({ RATE_LIMIT_USER_PER_SEC: never, RATE_LIMIT_USER_BURST: never, RATE_LIMIT_IP_PER_SEC: never, RATE_LIMIT_IP_BURST: never }),
        path,
      },
    ];
    const by = Object.fromEntries(variants.map((v) => [v.key, v]));
    for (const v of variants) v.runs = [];

    const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 2 });
    const shortcutCalls = [];
    let metricsBefore = new Map();
    let metricsAfter = new Map();
    try {
      const rounds = opts.soldOutRounds;
      for (let r = 0; r < rounds; r++) {
        const order = variants.map((_, i) => variants[(i + r) % variants.length]);
        for (const v of order) {
          const isShortcut = v.key === "shortcut";
          const last = r === rounds - 1;
          let before = null;
          const load = {
            threads: opts.threads,
            connections: opts.connections,
            duration: opts.soldOutRoundDuration,
            // The first round warms the JIT and the JWT cache; later ones only open connections.
            warmup: r === 0 ? opts.warmup : Math.min(opts.warmup, 1),
            verbose: opts.verbose,
            before: async () => {
              if (isShortcut && last) metricsBefore = await scrape(v.proc.url);
              if (isShortcut) before = await commandCalls(redis);
            },
          };
          const res = await warmThenMeasure(sb, `round ${r + 1}/${rounds}: ${v.label}`, { url: v.proc.url, path: v.path, tokens }, load, log);
          if (isShortcut) {
            const delta = callsDelta(before, await commandCalls(redis));
            shortcutCalls.push({ requests: res.requests, delta });
            if (last) metricsAfter = await scrape(v.proc.url);
          }
          v.runs.push(res);
        }
      }
    } finally {
      redis.disconnect();
    }

    const rps = (k) => by[k].runs.map((x) => x.rps);
    const med = (k) => median(rps(k));
    const perRound = (a, b) => by[a].runs.map((x, i) => x.rps / by[b].runs[i].rps);
    const ratioOf = (a, b) => median(perRound(a, b));
    const ratioSpread = (a, b) => spread(perRound(a, b), (x) => x.toFixed(2));
    const rpsSpread = (k) => spread(rps(k), int);

    const internals = describeInternals(metricsBefore, metricsAfter);
    if (internals) notes.push(`inside the shortcut gateway during its last run (its /metrics): ${internals}`);
    notes.push(
      `${opts.soldOutRounds} interleaved rounds of ${opts.soldOutRoundDuration} s per variant (order rotated each round); figures are medians, ranges are min–max over the rounds; ` +
        variants.map((v) => `${v.key} ${rpsSpread(v.key)}`).join(", ") +
        " req/s",
    );

    const gwRuns = by.shortcut.runs;
    const gwRequests = gwRuns.reduce((s, x) => s + x.requests, 0);
    const expected = gwRuns.reduce((s, x) => s + count(x, 409, 410), 0);
    if (expected !== gwRequests) {
      notes.push(`UNEXPECTED: ${(gwRequests - expected).toLocaleString("en-US")} of ${gwRequests.toLocaleString("en-US")} shortcut gateway answers were neither 409 nor 410`);
    }
    const socketErrors = variants.flatMap((v) => v.runs.filter((x) => x.socketErrors).map((x) => `${v.key}: ${JSON.stringify(x.errors)}`));
    if (socketErrors.length) notes.push(`socket errors: ${socketErrors.join("; ")}`);
    const g0 = gwRuns.at(-1);
    notes.push(
      `mix: ${(count(g0, 409) / Math.max(1, g0.requests) * 100).toFixed(0)}% 409 from ${holders.length} holders, ` +
        `${(count(g0, 410) / Math.max(1, g0.requests) * 100).toFixed(0)}% 410 from ${others.length.toLocaleString("en-US")} other users (tokens cycle; the gateway's JWT cache sees them again)`,
    );
    // Redis work of the shortcut gateway: what reaches Redis at all (renewing the sold-out memory
    // about once a second, the rate limits of those requests). Other sandboxes may add a little.
    const perReq = shortcutCalls.map(({ requests, delta }) => [...delta.values()].reduce((s, n) => s + n, 0) / Math.max(1, requests));
    const lastDelta = shortcutCalls.at(-1)?.delta ?? new Map();
    notes.push(
      `Redis commands during the shortcut runs (INFO commandstats delta, whole server): ${perReq.map((x) => x.toFixed(4)).join(", ")} per request; ` +
        `last run: ${[...lastDelta].map(([c, n]) => `${c} ${n}`).join(", ") || "none"} for ${int(shortcutCalls.at(-1)?.requests ?? 0)} requests`,
    );
    for (const k of ["userDefault", "off", "checked"]) {
      const x = by[k].runs.at(-1);
      const odd = x.requests - count(x, 409, 410, 429);
      notes.push(`${by[k].label} (last round): ${describeStatuses(x.statuses)}${odd ? ` (UNEXPECTED: ${odd.toLocaleString("en-US")} neither 409, 410 nor 429)` : ""}`);
    }
    if (by.checked.runs.some((x) => count(x, 429))) notes.push("UNEXPECTED: 429 answers with limits too high to reach");
    if (by.off.runs.some((x) => count(x, 429))) notes.push("UNEXPECTED: 429 answers with the limits off");
    for (const v of variants) {
      if (v.key === "bare") continue;
      const lines = logProblems(v.proc);
      if (lines.length) notes.push(`${v.label} logged ${lines.length} warn/error lines, e.g. ${lines[0]}`);
    }
    notes.push(
      `rate limits: at their defaults (${limitsNote}) with the shortcut, where only the request that renews its memory (about one a second) reaches them; without it the address limit is off (wrk's users all come from 127.0.0.1)`,
    );

    const ratio = ratioOf("shortcut", "bare");
    const rowFor = (label, a, b, extra = {}) =>
      row(label, { measured: `${fmt.rps(med(a))} (${rpsSpread(a)})`, baseline: fmt.rps(med(b)), ratio: `${fmt.ratio(ratioOf(a, b))} (${ratioSpread(a, b)})`, ...extra });
    return {
      rows: [
        rowFor("sold-out req/s (shortcut, limits at defaults)", "shortcut", "bare", { target: `≥ ${TARGET.toFixed(2)}`, met: ratio >= TARGET }),
        row("sold-out p99 (median)", {
          measured: fmt.ms(ms(median(gwRuns.map((x) => x.latency_us.p99)))),
          baseline: fmt.ms(ms(median(by.bare.runs.map((x) => x.latency_us.p99)))),
        }),
        rowFor("sold-out req/s, no shortcut, user limit at default", "userDefault", "bare"),
        rowFor("sold-out req/s, no shortcut, limits off", "off", "bare"),
        rowFor("no shortcut: both limits checked ÷ limits off", "checked", "off"),
        rowFor("shortcut ÷ no shortcut (limits at default)", "shortcut", "userDefault"),
        rowFor("shortcut ÷ no shortcut (limits off)", "shortcut", "off"),
      ],
      notes,
    };
  });
}
