// The persist benchmark's baseline: n coupon rows put into coupon_issues by plain multi-row
// INSERT … VALUES statements of `batch` rows, through pg, one connection, one after another.
// Same columns as the worker fills; the rows are built before the clock starts.
import { generateCouponNumber, makeRequestId, randomRequestToken } from "@coupon/domain";
import pg from "pg";

const COLUMNS = 7; // policy_id, user_id, user_slot, coupon_number, request_id, issued_at, expires_at

function insertSql(rows) {
  const values = [];
  for (let r = 0; r < rows; r++) {
    const p = r * COLUMNS;
    values.push(`($${p + 1}::bigint, $${p + 2}::bigint, $${p + 3}::int, $${p + 4}, $${p + 5}, 'ISSUED'::"CouponStatus", $${p + 6}::timestamptz, $${p + 7}::timestamptz)`);
  }
  return `INSERT INTO coupon_issues (policy_id, user_id, user_slot, coupon_number, request_id, status, issued_at, expires_at) VALUES ${values.join(", ")}`;
}

/** Returns the seconds the inserts took. */
export async function rawInsert(databaseUrl, policyId, n, firstUserId, batch) {
  const issuedAt = new Date();
  const expiresAt = new Date(issuedAt.getTime() + 30 * 86_400_000);
  const statements = [];
  for (let start = 0; start < n; start += batch) {
    const rows = Math.min(batch, n - start);
    const params = new Array(rows * COLUMNS);
    for (let r = 0; r < rows; r++) {
      const p = r * COLUMNS;
      params[p] = policyId;
      params[p + 1] = String(firstUserId + start + r);
      params[p + 2] = 1;
      params[p + 3] = generateCouponNumber();
      params[p + 4] = makeRequestId(policyId, randomRequestToken());
      params[p + 5] = issuedAt;
      params[p + 6] = expiresAt;
    }
    statements.push({ text: insertSql(rows), values: params });
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const t0 = performance.now();
    for (const s of statements) await client.query(s);
    return (performance.now() - t0) / 1000;
  } finally {
    await client.end();
  }
}
