// A simulated flash sale against a running gateway and worker: creates a FCFS policy, lets the
// users press (some twice), shows progress, waits for the worker, then checks the invariants.
// Exit code 1 when an invariant does not hold.
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { createSigner } from "fast-jwt";
import pg from "pg";
import { Pool } from "undici";
import { loadConfig } from "@coupon/config";
import { KeySpace, createRedisClient } from "@coupon/redis";

const { values: args } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:3000" },
    users: { type: "string", default: "20000" },
    coupons: { type: "string", default: "1000" },
    connections: { type: "string", default: "128" },
    impatient: { type: "string", default: "0.1" },
  },
});
const USERS = Number(args.users);
const COUPONS = Number(args.coupons);
const CONNECTIONS = Number(args.connections);
const IMPATIENT = Number(args.impatient);
const sign = createSigner({ key: process.env.JWT_SECRET, algorithm: "HS256", expiresIn: 3_600_000 });
const keys = new KeySpace(process.env.REDIS_PREFIX ?? "cp");
// The same Redis the gateway and worker use: a single one, or the cluster of REDIS_CLUSTER_NODES.
const redis = createRedisClient(loadConfig());
const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
await db.connect();
const http = new Pool(args.url, { connections: CONNECTIONS });
const tty = process.stdout.isTTY;

async function call(method, path, token, body) {
  const res = await http.request({
    method,
    path,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.statusCode, body: await res.body.json().catch(() => null) };
}

async function waitReady() {
  for (let i = 0; i < 300; i++) {
    const ok = await http.request({ method: "GET", path: "/health/ready" }).then((r) => (r.body.dump(), r.statusCode === 200)).catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the gateway did not become ready (see .demo/gateway.log)");
}

await waitReady();
const admin = sign({ sub: "1", role: "admin" });
const now = Date.now();
const created = await call("POST", "/admin/policies", admin, {
  name: `Demo flash sale ${new Date(now).toISOString()}`,
  issueType: "FCFS",
  totalQuantity: COUPONS,
  validDays: 7,
  issueStartAt: new Date(now - 1000).toISOString(),
  issueEndAt: new Date(now + 3_600_000).toISOString(),
  discount: { type: "PERCENT", value: 30 },
});
if (created.status !== 201) throw new Error(`could not create the policy: ${created.status} ${JSON.stringify(created.body)}`);
const policyId = created.body.id;
console.log(`\nFlash sale: policy ${policyId}, ${COUPONS.toLocaleString()} coupons, ${USERS.toLocaleString()} users (${Math.round(IMPATIENT * 100)}% press twice), ${CONNECTIONS} connections\n`);

// Users get ids far apart from other demo runs'; tokens are signed before the clock starts.
const base = BigInt(now) * 1000n;
const presses = [];
for (let i = 0; i < USERS; i++) {
  const userId = (base + BigInt(i)).toString();
  const token = sign({ sub: userId });
  presses.push({ userId, token });
  if (Math.random() < IMPATIENT) presses.push({ userId, token });
}
for (let i = presses.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [presses[i], presses[j]] = [presses[j], presses[i]];
}

const counts = { admitted: 0, soldOut: 0, duplicate: 0, other: 0 };
const latencies = new Float64Array(presses.length);
const winners = new Map();
let sent = 0;
let done = 0;
let persisted = 0;
let lastAdmissionAt = 0;

let allPersistedAt = 0;
const pollPersisted = async () => {
  const r = await db.query("SELECT count(*)::int AS n FROM coupon_issues WHERE policy_id = $1", [policyId]);
  persisted = r.rows[0].n;
  // Every winner is persisted once the stock is gone (or the burst is over) and the counts meet.
  const admissionsOver = counts.admitted >= COUPONS || done === presses.length;
  if (!allPersistedAt && admissionsOver && persisted >= counts.admitted) allPersistedAt = performance.now();
};
// A fast watcher of its own, so the moment the last winner is persisted is known to within 50 ms.
let watching = false;
const watcher = setInterval(() => {
  if (watching || allPersistedAt) return;
  watching = true;
  void pollPersisted().finally(() => (watching = false));
}, 50);
const progress = () => {
  const line = `  sent ${done.toLocaleString()}/${presses.length.toLocaleString()}  admitted ${counts.admitted}  sold out ${counts.soldOut}  duplicates ${counts.duplicate}  persisted ${persisted}`;
  if (tty) process.stdout.write(`\r${line}   `);
  else console.log(line);
};
const ticker = setInterval(() => void pollPersisted().then(progress), tty ? 250 : 1000);

const started = performance.now();
async function lane() {
  while (sent < presses.length) {
    const i = sent++;
    const p = presses[i];
    const t0 = performance.now();
    const res = await call("POST", `/policies/${policyId}/issue`, p.token).catch(() => ({ status: 0, body: null }));
    latencies[i] = performance.now() - t0;
    done++;
    if (res.status === 202) {
      counts.admitted++;
      lastAdmissionAt = performance.now();
      if (winners.has(p.userId)) counts.other++; // a second 202 for one user would be a bug
      winners.set(p.userId, res.body.requestId);
    } else if (res.status === 410) counts.soldOut++;
    else if (res.status === 409 && res.body?.code === "ALREADY_ISSUED") counts.duplicate++;
    else counts.other++;
  }
}
await Promise.all(Array.from({ length: CONNECTIONS }, lane));
const elapsed = (performance.now() - started) / 1000;

const pendingKey = keys.policy(policyId).pending;
const deadline = Date.now() + 60_000;
while (Date.now() < deadline) {
  await pollPersisted();
  if (persisted >= counts.admitted && (await redis.hlen(pendingKey)) === 0) break;
  await new Promise((r) => setTimeout(r, 50));
}
const persistedAfter = Math.max(0, ((allPersistedAt || performance.now()) - lastAdmissionAt) / 1000);
clearInterval(ticker);
clearInterval(watcher);
await pollPersisted();
progress();
if (tty) process.stdout.write("\n");

const sorted = Array.from(latencies).sort((a, b) => a - b);
const pct = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const issuedRows = await db.query(
  "SELECT status::text, count(*)::int AS n FROM issue_requests WHERE policy_id = $1 GROUP BY status",
  [policyId],
);
const byStatus = Object.fromEntries(issuedRows.rows.map((r) => [r.status, r.n]));
const doubles = await db.query(
  "SELECT count(*)::int AS n FROM (SELECT user_id FROM coupon_issues WHERE policy_id = $1 GROUP BY user_id HAVING count(*) > 1) d",
  [policyId],
);
const winnerIds = [...winners.values()];
const unresolved = await db.query(
  "SELECT count(*)::int AS n FROM unnest($1::text[]) AS w(id) WHERE NOT EXISTS (SELECT 1 FROM issue_requests r WHERE r.id = w.id)",
  [winnerIds],
);
const pendingLeft = await redis.hlen(pendingKey);
const sample = winnerIds.slice(0, 5);
let sampleIssued = 0;
for (const [userId, requestId] of [...winners].slice(0, 5)) {
  const r = await call("GET", `/issue-requests/${requestId}`, sign({ sub: userId }));
  if (r.status === 200 && r.body.status === "ISSUED") sampleIssued++;
}

const rows = [
  ["requests", presses.length.toLocaleString()],
  ["admitted (202)", counts.admitted.toLocaleString()],
  ["sold out (410)", counts.soldOut.toLocaleString()],
  ["duplicates (409)", counts.duplicate.toLocaleString()],
  ["other answers", counts.other.toLocaleString()],
  ["persisted coupons", persisted.toLocaleString()],
  ["latency p50", `${pct(0.5).toFixed(2)} ms`],
  ["latency p99", `${pct(0.99).toFixed(2)} ms`],
  ["requests/s", Math.round(presses.length / elapsed).toLocaleString()],
  ["all winners persisted", `${persistedAfter.toFixed(2)} s after the last admission (polled every 50 ms)`],
];
console.log("\nReport");
for (const [k, v] of rows) console.log(`  ${k.padEnd(24)} ${v}`);

const demand = new Set(presses.map((p) => p.userId)).size;
const checks = [
  ["1. no oversell", persisted <= COUPONS, `${persisted} persisted ≤ ${COUPONS} total`],
  [
    "2. no lost winner",
    unresolved.rows[0].n === 0 && pendingLeft === 0 && (byStatus.ISSUED ?? 0) + (byStatus.FAILED ?? 0) === counts.admitted,
    `${byStatus.ISSUED ?? 0} ISSUED, ${byStatus.FAILED ?? 0} FAILED, ${pendingLeft} pending of ${counts.admitted} admitted; ${sampleIssued}/${sample.length} polled ISSUED`,
  ],
  ["3. no undersell", demand <= COUPONS || persisted === COUPONS, `${persisted} persisted for ${demand.toLocaleString()} users wanting ${COUPONS}`],
  ["4. one per user", doubles.rows[0].n === 0 && counts.other === 0, `${doubles.rows[0].n} users with two coupons; ${counts.duplicate} second presses refused`],
];
console.log("\nInvariants");
let ok = true;
for (const [name, held, detail] of checks) {
  ok &&= held;
  console.log(`  ${held ? "✓ held" : "✗ BROKEN"}  ${name.padEnd(20)} ${detail}`);
}
console.log("");
await http.close();
await db.end();
redis.disconnect();
process.exit(ok ? 0 : 1);
