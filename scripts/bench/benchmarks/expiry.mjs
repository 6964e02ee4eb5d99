// expiry: 1,000,000 due coupons expired by the real worker job (triggered through the admin API),
// while a FCFS burst runs through a gateway. Target: all of them EXPIRED, with their audit rows
// and events, in under 30 s. The burst's p99 is measured twice with the same wrk settings: once
// without the expiry running (the baseline) and once while it runs.
import pg from "pg";
import { createPolicy } from "../lib/gateway-api.mjs";
import { measure } from "../lib/load.mjs";
import { logProblems, startGateway, startWorker } from "../lib/processes.mjs";
import { fmt, row } from "../lib/results.mjs";
import { withSandbox } from "../lib/sandbox.mjs";
import { QUIET_SCHEDULES, insertCoupons, runScheduledJob } from "../lib/schedules.mjs";
import { userRange, writeTokenFiles } from "../lib/tokens.mjs";
import { ms, runWrk } from "../lib/wrk.mjs";

export const name = "expiry";
export const summary = "1,000,000 due coupons expired by the worker job during a FCFS burst (< 30 s; burst p99 with and without)";
const TARGET_S = 30;

export async function run(opts, log) {
  return withSandbox(name, { keep: opts.keep, log }, async (sb) => {
    const n = opts.expiryN;
    const notes = [];
    const gateway = await startGateway(sb, QUIET_SCHEDULES);
    const worker = await startWorker(sb, QUIET_SCHEDULES);
    const db = new pg.Client({ connectionString: sb.env.DATABASE_URL });
    await db.connect();
    try {
      const old = await createPolicy(gateway, sb, { totalQuantity: 10_000_000, name: "Bench expiry: old coupons" });
      let t0 = performance.now();
      await insertCoupons(db, old, n, 1_000_000_000, "due");
      log(`  inserted ${fmt.int(n)} due coupons in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

      // The burst: 100,000 users for 10,000 coupons, as the flash sale (repeats answered 409/410).
      const load = { threads: opts.flashThreads, connections: opts.flashConnections, duration: opts.expiryBurstDuration, latency: true, verbose: opts.verbose };
      const burst = async (label, firstUser) => {
        const policy = await createPolicy(gateway, sb, { totalQuantity: opts.flashCoupons, name: `Bench expiry: ${label}` });
        const tokens = await writeTokenFiles(sb, `expiry-${firstUser}`, userRange(firstUser, opts.flashUsers), opts.flashThreads);
        return measure(sb, label, { url: gateway.url, path: `/policies/${policy}/issue`, tokens }, load, log);
      };
      if (opts.warmup > 0) {
        const warm = await createPolicy(gateway, sb, { totalQuantity: 10_000_000, name: "Bench expiry: warm-up" });
        const tokens = await writeTokenFiles(sb, "expiry-warm", userRange(70_000_000, 20_000), opts.flashThreads);
        await runWrk(sb, { url: gateway.url, path: `/policies/${warm}/issue`, tokens, threads: opts.flashThreads, connections: opts.flashConnections, duration: opts.warmup });
      }
      const quiet = await burst("FCFS burst, no expiry", 71_000_000);

      // The same burst with the expiry job triggered as it starts.
      t0 = performance.now();
      const [busy, job] = await Promise.all([burst("FCFS burst during expiry", 72_000_000), runScheduledJob(gateway, sb, "expiry")]);
      if (job.outcome !== "ok") throw new Error(`expiry run: ${job.outcome} ${JSON.stringify(job.result)}`);
      if (job.jobSeconds > opts.expiryBurstDuration) notes.push(`the expiry ran ${job.jobSeconds.toFixed(1)} s, longer than the burst (${opts.expiryBurstDuration} s): part of it ran without load`);
      log(`  expiry job: ${JSON.stringify(job.result)} in ${job.jobSeconds.toFixed(2)} s (trigger to record ${job.wallSeconds.toFixed(2)} s)`);

      const c = (
        await db.query(
          `SELECT count(*) FILTER (WHERE status = 'EXPIRED')::int AS expired, count(*)::int AS rows,
                  (SELECT count(*)::int FROM coupon_audit WHERE action = 'EXPIRED') AS audits,
                  (SELECT count(*)::int FROM outbox_events WHERE event_type = 'CouponExpired') AS events
           FROM coupon_issues WHERE policy_id = $1`,
          [old],
        )
      ).rows[0];
      const complete = c.expired === n && c.rows === n && c.audits === n && c.events === n;
      if (!complete) notes.push(`UNEXPECTED: ${JSON.stringify(c)} for ${n} due coupons`);
      notes.push(`${fmt.int(job.result.batches)} batches of up to ${fmt.int(5000)}; rate ${fmt.perSec(n / job.jobSeconds, "coupons")}`);
      notes.push(`burst without expiry: ${fmt.rps(quiet.rps)}, p50 ${fmt.ms(ms(quiet.latency_us.p50))}; during expiry: ${fmt.rps(busy.rps)}, p50 ${fmt.ms(ms(busy.latency_us.p50))}`);
      for (const proc of [gateway, worker]) {
        const problems = logProblems(proc);
        if (problems.length) notes.push(`${proc.name} logged ${problems.length} warn/error lines, e.g. ${problems[0]}`);
      }
      return {
        rows: [
          row("expiry 1M due coupons", {
            measured: fmt.s(job.jobSeconds),
            target: `< ${TARGET_S} s, all expired`,
            met: complete && job.jobSeconds < TARGET_S,
          }),
          row("expiry: burst p99 during", {
            measured: fmt.ms(ms(busy.latency_us.p99)),
            baseline: fmt.ms(ms(quiet.latency_us.p99)),
            ratio: fmt.ratio(busy.latency_us.p99 / quiet.latency_us.p99),
          }),
        ],
        notes,
      };
    } finally {
      await db.end();
    }
  });
}
