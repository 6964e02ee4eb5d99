// direct-batch: one DIRECT batch of 1,000,000 users, submitted as CSV to a real gateway and issued
// by a real worker. Targets: COMPLETED (every user issued, with audit rows and events) under 60 s
// from the first byte of the upload, worker peak RSS (VmHWM) under 512 MB. Baseline: the same
// number of coupon rows put in by plain batched multi-row INSERTs (lib/raw-insert.mjs), same run.
import { readFileSync } from "node:fs";
import pg from "pg";
import { createPolicy } from "../lib/gateway-api.mjs";
import { logProblems, startGateway, startWorker } from "../lib/processes.mjs";
import { rawInsert } from "../lib/raw-insert.mjs";
import { fmt, row } from "../lib/results.mjs";
import { withSandbox } from "../lib/sandbox.mjs";
import { QUIET_SCHEDULES } from "../lib/schedules.mjs";
import { tokenSigner } from "../lib/tokens.mjs";

export const name = "direct-batch";
export const summary = "a DIRECT batch of 1,000,000 users, CSV upload to COMPLETED (< 60 s, worker RSS < 512 MB; vs raw INSERT)";
const TARGET_S = 60;
const TARGET_MB = 512;
const FIRST_USER = 2_000_000_000;

/** Peak resident set of a process so far, in MB (Linux). */
function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function run(opts, log) {
  return withSandbox(name, { keep: opts.keep, log }, async (sb) => {
    const n = opts.directN;
    const notes = [];
    const gateway = await startGateway(sb, QUIET_SCHEDULES);
    const worker = await startWorker(sb, QUIET_SCHEDULES);
    const auth = { authorization: `Bearer ${tokenSigner(sb.env.JWT_SECRET).admin()}` };
    const db = new pg.Client({ connectionString: sb.env.DATABASE_URL });
    await db.connect();
    try {
      const policy = await createPolicy(gateway, sb, { totalQuantity: null, issueType: "DIRECT", name: "Bench direct batch" });
      const lines = ["userId"];
      for (let i = 0; i < n; i++) lines.push(String(FIRST_USER + i));
      const csv = lines.join("\n");
      log(`  uploading ${fmt.int(n)} ids (${(csv.length / 1e6).toFixed(1)} MB of CSV)`);

      const t0 = performance.now();
      const res = await fetch(`${gateway.url}/admin/policies/${policy}/direct-issues`, {
        method: "POST",
        headers: { ...auth, "content-type": "text/csv" },
        body: csv,
      });
      const text = await res.text();
      if (res.status !== 202) throw new Error(`submit: ${res.status} ${text}`);
      const { batchId } = JSON.parse(text);
      const stored = (performance.now() - t0) / 1000;
      log(`  stored as batch ${batchId} in ${stored.toFixed(1)} s`);

      let batch;
      let lastLog = 0;
      for (;;) {
        const r = await fetch(`${gateway.url}/admin/batches/${batchId}`, { headers: auth });
        batch = await r.json();
        if (["COMPLETED", "FAILED", "CANCELLED"].includes(batch.state)) break;
        if (performance.now() - lastLog > 5000) {
          lastLog = performance.now();
          log(`  ${batch.state} ${fmt.int(batch.processed)}/${fmt.int(n)}, about ${batch.estimatedSecondsLeft ?? "?"} s left`);
        }
        if ((performance.now() - t0) / 1000 > TARGET_S * 5) throw new Error(`batch still ${batch.state} after ${TARGET_S * 5} s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const total = (performance.now() - t0) / 1000;
      const rssMb = peakRssMb(worker.child.pid);
      const gatewayRssMb = peakRssMb(gateway.child.pid);

      const c = (
        await db.query(
          `SELECT count(*)::int AS coupons,
                  (SELECT count(*)::int FROM coupon_audit WHERE action = 'ISSUED') AS audits,
                  (SELECT count(*)::int FROM outbox_events WHERE event_type = 'CouponIssued') AS events
           FROM coupon_issues WHERE policy_id = $1`,
          [policy],
        )
      ).rows[0];
      const complete = batch.state === "COMPLETED" && batch.successCount === n && c.coupons === n && c.audits === n && c.events === n;
      if (!complete) notes.push(`UNEXPECTED: batch ${JSON.stringify(batch)}, rows ${JSON.stringify(c)}`);

      // The baseline: the same number of coupon rows, plain multi-row INSERTs of 1000, one connection.
      const other = await createPolicy(gateway, sb, { totalQuantity: null, issueType: "DIRECT", name: "Bench direct batch: raw" });
      const raw = await rawInsert(sb.env.DATABASE_URL, other, n, FIRST_USER + n, 1000);
      const issuing = total - stored;
      notes.push(
        `upload and store ${fmt.s(stored)}, issuing ${fmt.s(issuing)} (${fmt.perSec(n / issuing, "coupons")}); raw INSERT ${fmt.s(raw)} (${fmt.perSec(n / raw, "rows")}) writes coupons only, no audit/outbox/Redis`,
      );
      notes.push(`gateway peak RSS ${gatewayRssMb.toFixed(0)} MB (holds the de-duplication set during the upload)`);
      for (const proc of [gateway, worker]) {
        const problems = logProblems(proc);
        if (problems.length) notes.push(`${proc.name} logged ${problems.length} warn/error lines, e.g. ${problems[0]}`);
      }
      return {
        rows: [
          row("direct batch 1M users", {
            measured: fmt.s(total),
            baseline: `${fmt.s(raw)} raw INSERT`,
            ratio: fmt.ratio(raw / total),
            target: `< ${TARGET_S} s, all issued`,
            met: complete && total < TARGET_S,
          }),
          row("direct batch: worker peak RSS", {
            measured: `${rssMb.toFixed(0)} MB`,
            target: `< ${TARGET_MB} MB`,
            met: rssMb < TARGET_MB,
          }),
        ],
        notes,
      };
    } finally {
      await db.end();
    }
  });
}
