// flash-sale: 100,000 users for 10,000 coupons at 256 connections, gateway and one worker
// running. wrk goes through the users' tokens (each thread its own half) and cycles when they
// run out: the repeats are impatient users, answered 409 or 410. Targets: p99 admission latency
// < 25 ms; every coupon persisted within 3 s of the last admission
// (max(completed_at) − max(admitted_at)); exactly 10,000 coupons, nobody twice.
// Baseline for the ratio: the bare Fastify route's p99 under the same wrk settings.
import pg from "pg";
import { createPolicy } from "../lib/gateway-api.mjs";
import { openRedisView } from "../lib/issue-queue.mjs";
import { measure, warmThenMeasure } from "../lib/load.mjs";
import { logProblems, startBare, startGateway, startWorker } from "../lib/processes.mjs";
import { describeInternals, scrape } from "../lib/prometheus.mjs";
import { fmt, row } from "../lib/results.mjs";
import { withSandbox } from "../lib/sandbox.mjs";
import { userRange, writeTokenFiles } from "../lib/tokens.mjs";
import { count, describeStatuses, ms, runWrk } from "../lib/wrk.mjs";

export const name = "flash-sale";
export const summary = "100,000 users, 10,000 coupons, 256 connections, gateway + worker (p99 < 25 ms, persisted within 3 s)";
const TARGET_P99_MS = 25;
const TARGET_PERSISTED_S = 3;
const WARMUP_USERS = 20_000;

async function waitUntil(what, check, timeoutMs, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function run(opts, log) {
  return withSandbox(name, { keep: opts.keep, log }, async (sb) => {
    const users = opts.flashUsers;
    const coupons = opts.flashCoupons;
    const notes = [];
    const load = { threads: opts.flashThreads, connections: opts.flashConnections, duration: opts.flashDuration, warmup: opts.warmup, latency: true, verbose: opts.verbose };
    const tokens = await writeTokenFiles(sb, "flash", userRange(40_000_000, users), opts.flashThreads);

    // Baseline: the bare route under the same wrk settings and tokens.
    const bare = await startBare(sb);
    const base = await warmThenMeasure(sb, "bare Fastify", { url: bare.url, path: "/bare", tokens }, load, log);
    await bare.stop();

    const gateway = await startGateway(sb);
    const worker = await startWorker(sb);
    const db = new pg.Client({ connectionString: sb.env.DATABASE_URL });
    await db.connect();
    const view = await openRedisView(sb);
    const persistedOf = async (policyId) =>
      (await db.query("SELECT count(*)::int AS n FROM coupon_issues WHERE policy_id = $1", [policyId])).rows[0].n;
    try {
      // Warm-up on a policy of its own with users of its own, then wait until the worker is idle.
      if (opts.warmup > 0) {
        const warmPolicy = await createPolicy(gateway, sb, { totalQuantity: 10_000_000, name: "Bench flash-sale warm-up" });
        const warmTokens = await writeTokenFiles(sb, "flash-warmup", userRange(50_000_000, WARMUP_USERS), opts.flashThreads);
        const w = await runWrk(sb, { url: gateway.url, path: `/policies/${warmPolicy}/issue`, tokens: warmTokens, threads: opts.flashThreads, connections: opts.flashConnections, duration: opts.warmup });
        const admitted = await view.admitted(warmPolicy);
        await waitUntil("the warm-up's coupons", async () => (await persistedOf(warmPolicy)) >= admitted && (await view.pending(warmPolicy)) === 0, 60_000, 50);
        log(`  gateway warm-up: ${fmt.rps(w.rps)} (${describeStatuses(w.statuses)}), its ${admitted.toLocaleString("en-US")} coupons persisted`);
      }

      const policyId = await createPolicy(gateway, sb, { totalQuantity: coupons, name: "Bench flash sale" });
      // While wrk runs, watch (every 20 ms) when Redis sells the last coupon and when
      // PostgreSQL holds them all: wall-clock times, same host clock as Redis TIME.
      const seen = { soldOutAt: null, persistedAt: null };
      let watching = true;
      const watcher = (async () => {
        while (watching && seen.persistedAt === null) {
          if (seen.soldOutAt === null && (await view.admitted(policyId)) >= coupons) seen.soldOutAt = Date.now();
          if (seen.soldOutAt !== null && (await persistedOf(policyId)) >= coupons) seen.persistedAt = Date.now();
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const metricsBefore = await scrape(gateway.url);
      const startedAt = Date.now();
      let gw;
      let metricsAfter;
      try {
        gw = await measure(sb, "gateway flash sale", { url: gateway.url, path: `/policies/${policyId}/issue`, tokens }, load, log);
        metricsAfter = await scrape(gateway.url);
        const admitted = await view.admitted(policyId);
        await waitUntil(`${coupons} coupons persisted (${admitted} admitted)`, async () => seen.persistedAt !== null || (await persistedOf(policyId)) >= Math.min(coupons, admitted), 60_000);
      } finally {
        watching = false;
        await watcher.catch(() => {});
      }
      const admitted = await view.admitted(policyId);
      await waitUntil("Redis pending admissions to settle", async () => (await view.pending(policyId)) === 0, 10_000, 50).catch(() => {});

      const r = (
        await db.query(
          `SELECT extract(epoch FROM max(completed_at) - max(admitted_at))::float8 AS within,
                  (extract(epoch FROM max(admitted_at)) * 1000)::float8 AS last_admitted_ms,
                  count(*)::int AS requests, count(*) FILTER (WHERE status = 'FAILED')::int AS failed
           FROM issue_requests WHERE policy_id = $1`,
          [policyId],
        )
      ).rows[0];
      const c = (
        await db.query(
          `SELECT count(*)::int AS coupons, count(DISTINCT user_id)::int AS users,
                  (SELECT count(*)::int FROM (SELECT 1 FROM coupon_issues WHERE policy_id = $1 GROUP BY user_id HAVING count(*) > 1) d) AS twice
           FROM coupon_issues WHERE policy_id = $1`,
          [policyId],
        )
      ).rows[0];
      const pendingLeft = await view.pending(policyId);
      const wins = count(gw, 202);
      const p99 = ms(gw.latency_us.p99);
      const invariantsHold = c.coupons === coupons && c.twice === 0 && r.failed === 0 && admitted === coupons && pendingLeft === 0;

      const reached = Math.min(gw.requests, users);
      notes.push(
        `${gw.requests.toLocaleString("en-US")} requests (${fmt.rps(gw.rps)}) reached ${reached.toLocaleString("en-US")} of ${users.toLocaleString("en-US")} users` +
          `${gw.wraps ? `, then cycled (${gw.wraps} thread wraps)` : ""}: ${describeStatuses(gw.statuses)}`,
      );
      const unexpected = gw.requests - count(gw, 202, 409, 410);
      if (unexpected) notes.push(`UNEXPECTED: ${unexpected.toLocaleString("en-US")} answers were not 202/409/410`);
      if (wins !== coupons) notes.push(`${wins.toLocaleString("en-US")} 202 answers counted by wrk for ${coupons.toLocaleString("en-US")} coupons${wins < coupons ? " (the rest were in flight when wrk stopped?)" : " — UNEXPECTED"}`);
      if (gw.socketErrors) notes.push(`gateway socket errors: ${JSON.stringify(gw.errors)}`);
      if (!invariantsHold) {
        notes.push(`UNEXPECTED: Redis admitted ${admitted}, ${r.requests} issue_requests (${r.failed} FAILED), ${pendingLeft} still pending in Redis`);
      }
      if (seen.soldOutAt !== null) {
        notes.push(
          `sold out ${((seen.soldOutAt - startedAt) / 1000).toFixed(2)} s after wrk was launched (its start-up included) (Redis admitted = ${fmt.int(coupons)}); ` +
            (seen.persistedAt !== null
              ? `all coupons visible in PostgreSQL ${((seen.persistedAt - r.last_admitted_ms) / 1000).toFixed(2)} s after the last admission (count(*) polled every 20 ms, commit included)`
              : "the watcher did not see every coupon in PostgreSQL"),
        );
      }
      notes.push(`latency from wrk over every request of the run (the 202s come first, the 409/410s of the sold-out sale after); p50 ${fmt.ms(ms(gw.latency_us.p50))}, p99.9 ${fmt.ms(ms(gw.latency_us.p999))}, max ${fmt.ms(ms(gw.latency_us.max))}`);
      const internals = describeInternals(metricsBefore, metricsAfter);
      if (internals) notes.push(`inside the gateway during the run (its /metrics): ${internals}`);
      for (const proc of [gateway, worker]) {
        const problems = logProblems(proc);
        if (problems.length) notes.push(`${proc.name} logged ${problems.length} warn/error lines, e.g. ${problems[0]}`);
      }

      return {
        rows: [
          row("flash-sale p99", {
            measured: fmt.ms(p99),
            baseline: fmt.ms(ms(base.latency_us.p99)),
            ratio: fmt.ratio(gw.latency_us.p99 / base.latency_us.p99),
            target: `< ${TARGET_P99_MS} ms`,
            met: p99 < TARGET_P99_MS,
          }),
          row("flash-sale persisted within", {
            measured: fmt.s(r.within),
            target: `≤ ${TARGET_PERSISTED_S} s`,
            met: r.within <= TARGET_PERSISTED_S,
          }),
          row("flash-sale invariants", {
            measured: `${fmt.int(c.coupons)} coupons, ${c.twice} users twice`,
            target: `${fmt.int(coupons)}, 0 twice`,
            met: invariantsHold,
          }),
        ],
        notes,
      };
    } finally {
      await view.close();
      await db.end();
    }
  });
}
