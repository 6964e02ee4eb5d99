// persist: how fast one worker turns queued admissions into coupons. N admissions are made and
// enqueued exactly as the gateway does (before the worker starts), then one worker process runs
// until coupon_issues holds N rows for the policy. Baseline in the same database: N rows by raw
// 500-row INSERT … VALUES statements. Targets: worker ÷ raw ≥ 0.25 and ≥ 20,000 coupons/s.
import pg from "pg";
import { createPolicy } from "../lib/gateway-api.mjs";
import { openRedisView } from "../lib/issue-queue.mjs";
import { preloadAdmissions } from "../lib/preload-admissions.mjs";
import { logProblems, startGateway, startWorker } from "../lib/processes.mjs";
import { rawInsert } from "../lib/raw-insert.mjs";
import { fmt, row } from "../lib/results.mjs";
import { withSandbox } from "../lib/sandbox.mjs";

export const name = "persist";
export const summary = "one worker persisting N pre-queued admissions vs raw 500-row INSERTs (ratio ≥ 0.25, ≥ 20,000 coupons/s)";
const TARGET_RATIO = 0.25;
const TARGET_RATE = 20_000;

export async function run(opts, log) {
  return withSandbox(name, { keep: opts.keep, log }, async (sb) => {
    const n = opts.persistN;
    const batchMax = Number(process.env.ISSUE_BATCH_MAX ?? 500);
    const notes = [];

    // Two policies, created through the admin API of a gateway that is then stopped.
    const gateway = await startGateway(sb);
    const policyId = await createPolicy(gateway, sb, { totalQuantity: n, name: "Bench persist (worker)" });
    const rawPolicyId = await createPolicy(gateway, sb, { totalQuantity: n, name: "Bench persist (raw INSERT)" });
    await gateway.stop();

    const pre = await preloadAdmissions(sb, policyId, n, 1_000_000_000, batchMax);
    log(
      `  pre-loaded ${n.toLocaleString("en-US")} admissions in ${(pre.admittedMs / 1000).toFixed(1)} s, ` +
        `${pre.jobs} jobs of ≤ ${batchMax} enqueued in ${(pre.enqueuedMs / 1000).toFixed(1)} s`,
    );

    const db = new pg.Client({ connectionString: sb.env.DATABASE_URL });
    await db.connect();
    const view = await openRedisView(sb);
    try {
      // Baseline first (the worker's run then goes into a table that already holds N rows).
      await db.query("CHECKPOINT");
      const rawSeconds = await rawInsert(sb.env.DATABASE_URL, rawPolicyId, n, 2_000_000_000, batchMax);
      const rawRate = n / rawSeconds;
      log(`  raw INSERT: ${n.toLocaleString("en-US")} rows in ${rawSeconds.toFixed(2)} s = ${fmt.perSec(rawRate, "rows")}`);

      await db.query("CHECKPOINT");
      // issued_count moves in the same transaction as the coupons, and reading one row by its key
      // costs the database nothing, unlike a count(*) over a growing table every few ms.
      const countSql = { text: "SELECT issued_count AS n FROM coupon_policies WHERE id = $1", values: [policyId] };
      const worker = await startWorker(sb, { RECOVERY_GRACE_MS: "600000" }, { waitReady: false });
      const t0 = worker.startedAt;
      const deadline = Date.now() + Math.max(120_000, n / 100);
      let persisted = 0;
      while (persisted < n) {
        if (!worker.running()) throw new Error(`the worker exited:\n${worker.output()}`);
        if (Date.now() > deadline) throw new Error(`only ${persisted} of ${n} coupons persisted after ${(performance.now() - t0) / 1000} s:\n${worker.output()}`);
        persisted = (await db.query(countSql)).rows[0].n;
        if (persisted < n) await new Promise((r) => setTimeout(r, opts.persistPollMs));
      }
      const workerSeconds = (performance.now() - t0) / 1000;
      const workerRate = n / workerSeconds;

      // First to last persisted row: completed_at is stamped per job (one transaction), so the
      // rows of the first job are the start line and do not count.
      const span = (
        await db.query(
          `SELECT extract(epoch FROM max(completed_at) - min(completed_at))::float8 AS seconds,
                  count(*) FILTER (WHERE completed_at = (SELECT min(completed_at) FROM issue_requests WHERE policy_id = $1))::int AS first_rows,
                  count(*) FILTER (WHERE status = 'FAILED')::int AS failed, count(*)::int AS requests
           FROM issue_requests WHERE policy_id = $1`,
          [policyId],
        )
      ).rows[0];
      const steadyRate = span.seconds > 0 ? (n - span.first_rows) / span.seconds : NaN;
      log(
        `  worker: ${n.toLocaleString("en-US")} coupons ${workerSeconds.toFixed(2)} s after its start = ${fmt.perSec(workerRate, "coupons")}; ` +
          `first→last row ${span.seconds.toFixed(2)} s = ${fmt.perSec(steadyRate, "coupons")}`,
      );

      // Correctness on the way: every admission recorded once, none failed, Redis settled.
      let pendingLeft = await view.pending(policyId);
      for (let i = 0; i < 100 && pendingLeft > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        pendingLeft = await view.pending(policyId);
      }
      const issued = (await db.query("SELECT issued_count FROM coupon_policies WHERE id = $1", [policyId])).rows[0].issued_count;
      if (span.requests !== n || span.failed || pendingLeft || issued !== n) {
        notes.push(
          `UNEXPECTED: ${span.requests} issue_requests (${span.failed} FAILED) for ${n} admissions, issued_count ${issued}, ${pendingLeft} still pending in Redis`,
        );
      }
      notes.push(
        `worker with its defaults (WORKER_CONCURRENCY, DB_POOL_SIZE unset), RECOVERY_GRACE_MS=600000 so the pre-loaded (old) admissions are not re-enqueued; ` +
          `time counted from spawning the worker (start-up included); the policy's issued_count polled every ${opts.persistPollMs} ms`,
      );
      const problems = logProblems(worker);
      if (problems.length) notes.push(`worker logged ${problems.length} warn/error lines, e.g. ${problems[0]}`);

      const ratio = workerRate / rawRate;
      return {
        rows: [
          row("persist vs raw INSERT", {
            measured: fmt.perSec(workerRate, "coupons"),
            baseline: fmt.perSec(rawRate, "rows"),
            ratio: fmt.ratio(ratio),
            target: `≥ ${TARGET_RATIO.toFixed(2)}`,
            met: ratio >= TARGET_RATIO,
          }),
          row("persist coupons/s", {
            measured: fmt.perSec(workerRate, "coupons"),
            target: `≥ ${fmt.int(TARGET_RATE)}/s`,
            met: workerRate >= TARGET_RATE,
          }),
          row("persist first→last row", {
            measured: fmt.perSec(steadyRate, "coupons"),
            baseline: fmt.perSec(rawRate, "rows"),
            ratio: fmt.ratio(steadyRate / rawRate),
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
