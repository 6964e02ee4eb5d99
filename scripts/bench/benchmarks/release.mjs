// release: 100,000 stale reservations (RESERVED an hour ago) released by the real worker job,
// triggered through the admin API: every one back to ISSUED with its audit row and event.
import pg from "pg";
import { createPolicy } from "../lib/gateway-api.mjs";
import { logProblems, startGateway, startWorker } from "../lib/processes.mjs";
import { fmt, row } from "../lib/results.mjs";
import { withSandbox } from "../lib/sandbox.mjs";
import { QUIET_SCHEDULES, insertCoupons, runScheduledJob } from "../lib/schedules.mjs";

export const name = "release";
export const summary = "100,000 stale reservations released by the worker job";

export async function run(opts, log) {
  return withSandbox(name, { keep: opts.keep, log }, async (sb) => {
    const n = opts.releaseN;
    const notes = [];
    const gateway = await startGateway(sb, QUIET_SCHEDULES);
    const worker = await startWorker(sb, QUIET_SCHEDULES);
    const db = new pg.Client({ connectionString: sb.env.DATABASE_URL });
    await db.connect();
    try {
      const policy = await createPolicy(gateway, sb, { totalQuantity: 10_000_000, name: "Bench release" });
      const t0 = performance.now();
      await insertCoupons(db, policy, n, 1_000_000_000, "stale");
      log(`  inserted ${fmt.int(n)} stale reservations in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const job = await runScheduledJob(gateway, sb, "reservation-release");
      if (job.outcome !== "ok") throw new Error(`release run: ${job.outcome} ${JSON.stringify(job.result)}`);
      log(`  release job: ${JSON.stringify(job.result)} in ${job.jobSeconds.toFixed(2)} s`);
      const c = (
        await db.query(
          `SELECT count(*) FILTER (WHERE status = 'ISSUED' AND reserved_at IS NULL AND order_id IS NULL)::int AS released,
                  (SELECT count(*)::int FROM coupon_audit WHERE action = 'RELEASED') AS audits,
                  (SELECT count(*)::int FROM outbox_events WHERE event_type = 'CouponReleased') AS events
           FROM coupon_issues WHERE policy_id = $1`,
          [policy],
        )
      ).rows[0];
      const complete = c.released === n && c.audits === n && c.events === n;
      if (!complete) notes.push(`UNEXPECTED: ${JSON.stringify(c)} for ${n} stale reservations`);
      notes.push(`${fmt.int(job.result.batches)} batches; rate ${fmt.perSec(n / job.jobSeconds, "coupons")}`);
      for (const proc of [gateway, worker]) {
        const problems = logProblems(proc);
        if (problems.length) notes.push(`${proc.name} logged ${problems.length} warn/error lines, e.g. ${problems[0]}`);
      }
      return {
        rows: [row("release 100k reservations", { measured: fmt.s(job.jobSeconds), target: "all released", met: complete })],
        notes,
      };
    } finally {
      await db.end();
    }
  });
}
