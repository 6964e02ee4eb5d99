// Maintenance jobs driven the way an operator drives them: POST /admin/schedules/:name/run, then
// GET /admin/schedules until the worker recorded a run of that job that started after the trigger.
// Also the bulk insert of coupons the expiry and release benchmarks work through.
import { tokenSigner } from "./tokens.mjs";

/** Cron patterns that do not fire during a benchmark: its jobs run when it triggers them. */
export const QUIET_SCHEDULES = {
  EXPIRY_CRON: "0 0 1 1 *",
  RESERVATION_RELEASE_CRON: "0 0 1 1 *",
  RECONCILE_CRON: "0 0 1 1 *",
};

export async function runScheduledJob(gateway, sandbox, name, { timeoutMs = 300_000 } = {}) {
  const headers = { authorization: `Bearer ${tokenSigner(sandbox.env.JWT_SECRET).admin()}` };
  const triggeredAt = Date.now();
  const res = await fetch(`${gateway.url}/admin/schedules/${name}/run`, { method: "POST", headers });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`run ${name}: ${res.status} ${text}`);
  const deadline = triggeredAt + timeoutMs;
  for (;;) {
    const list = await (await fetch(`${gateway.url}/admin/schedules`, { headers })).json();
    const last = list.find((s) => s.name === name)?.lastRun;
    // The recorded times are ISO strings with milliseconds; the worker's clock is this host's.
    if (last && Date.parse(last.startedAt) >= triggeredAt - 5) {
      return { ...last, wallSeconds: (Date.now() - triggeredAt) / 1000, jobSeconds: (Date.parse(last.finishedAt) - Date.parse(last.startedAt)) / 1000 };
    }
    if (Date.now() > deadline) throw new Error(`${name} did not finish within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * n coupons of one policy in one INSERT … SELECT generate_series, one user each from firstUser.
 * kind "due": ISSUED, expired up to a day ago; kind "stale": RESERVED an hour ago.
 */
export async function insertCoupons(db, policyId, n, firstUser, kind) {
  const due = kind === "due";
  await db.query(
    `INSERT INTO coupon_issues (policy_id, user_id, user_slot, coupon_number, status, issued_at, expires_at,
                                reserved_at, order_id, reservation_id)
     SELECT $1::bigint, $2::bigint + g, 1, 'B' || lpad(g::text, 12, '0') || $3, $4::"CouponStatus",
            now() - interval '40 days',
            CASE WHEN $5 THEN now() - interval '1 hour' - (g % 86400) * interval '1 second' ELSE now() + interval '10 days' END,
            CASE WHEN $5 THEN NULL ELSE now() - interval '1 hour' END,
            CASE WHEN $5 THEN NULL ELSE 'order-' || g END,
            CASE WHEN $5 THEN NULL ELSE 'resv-' || g END
     FROM generate_series(1, $6::int) AS g`,
    [policyId, firstUser, kind, due ? "ISSUED" : "RESERVED", due, n],
  );
  await db.query("ANALYZE coupon_issues");
  await db.query("CHECKPOINT");
}
