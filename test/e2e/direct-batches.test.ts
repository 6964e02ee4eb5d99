// DIRECT batches end to end: a real worker process issues what the in-process gateway stored.
import { randomBytes } from "node:crypto";
import { PERSIST_JOB, type AdmissionRecord } from "@coupon/queue";
import { reserveDirectChunk } from "@coupon/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { startWorker, type Proc } from "../support/processes.js";
import { adminToken, bearer } from "../support/tokens.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
let worker: (Proc & { metricsPort: number }) | undefined;
const procs: Proc[] = [];
const admin = bearer(adminToken());
const CHUNK = 100;
// Dead workers' jobs come back within seconds, and recovery looks for batches without a job often.
const fastStall = {
  WORKER_LOCK_DURATION_MS: "3000",
  WORKER_STALLED_INTERVAL_MS: "1000",
  RECOVERY_GRACE_MS: "1000",
  RECOVERY_EVERY_MS: "1000",
};

beforeAll(async () => {
  h = await startHarness({ DIRECT_BATCH_CHUNK: String(CHUNK), DIRECT_BATCH_MAX_IDS: "20000", DIRECT_BATCH_MAX_BYTES: "400000" });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill("SIGKILL")));
  await h?.close();
});

async function ensureWorker(): Promise<void> {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) return;
  worker = await startWorker({ ...h.env, ...fastStall });
  procs.push(worker);
}

const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => String(from + i));

function submitJson(policyId: string, payload: unknown, headers: Record<string, string> = {}) {
  return h.app.inject({
    method: "POST",
    url: `/admin/policies/${policyId}/direct-issues`,
    headers: { ...admin, "content-type": "application/json", ...headers },
    payload: typeof payload === "string" ? payload : JSON.stringify(payload),
  });
}

function submitCsv(policyId: string, body: string, headers: Record<string, string> = {}) {
  return h.app.inject({
    method: "POST",
    url: `/admin/policies/${policyId}/direct-issues`,
    headers: { ...admin, "content-type": "text/csv", ...headers },
    payload: body,
  });
}

async function batch(batchId: string): Promise<Record<string, unknown>> {
  const res = await h.app.inject({ method: "GET", url: `/admin/batches/${batchId}`, headers: admin });
  expect(res.statusCode).toBe(200);
  return res.json();
}

async function finished(batchId: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return waitFor(
    `batch ${batchId} finished`,
    async () => {
      const b = await batch(batchId);
      return ["COMPLETED", "FAILED", "CANCELLED"].includes(b.state as string) ? b : null;
    },
    timeoutMs,
    100,
  );
}

async function failures(batchId: string): Promise<{ userId: string; reason: string }[]> {
  const res = await h.app.inject({ method: "GET", url: `/admin/batches/${batchId}/failures?limit=1000`, headers: admin });
  expect(res.statusCode).toBe(200);
  return res.json();
}

/** PostgreSQL and Redis agree with each other and with the batch's counts; nobody holds two. */
async function expectConsistent(policyId: string): Promise<{ userId: string }[]> {
  const pid = BigInt(policyId);
  const coupons = await h.prisma.couponIssue.findMany({ where: { policyId: pid }, select: { id: true, userId: true } });
  expect(new Set(coupons.map((c) => c.userId)).size).toBe(coupons.length);
  const policy = await h.prisma.couponPolicy.findUniqueOrThrow({ where: { id: pid } });
  expect(policy.issuedCount).toBe(coupons.length);
  if (policy.totalQuantity !== null) expect(coupons.length).toBeLessThanOrEqual(policy.totalQuantity);
  const k = h.keys.policy(policyId);
  expect(Number(await h.redis.get(k.admitted))).toBe(coupons.length);
  const counts = await h.redis.hgetall(k.counts);
  expect(Object.keys(counts).sort()).toEqual(coupons.map((c) => c.userId.toString()).sort());
  expect(Object.values(counts).every((v) => v === "1")).toBe(true);
  // Every coupon has its audit row and its CouponIssued event.
  const couponIds = coupons.map((c) => c.id);
  expect(await h.prisma.couponAudit.count({ where: { couponId: { in: couponIds }, action: "ISSUED" } })).toBe(coupons.length);
  expect(await h.prisma.outboxEvent.count({ where: { aggregateId: { in: couponIds }, eventType: "CouponIssued" } })).toBe(coupons.length);
  return coupons.map((c) => ({ userId: c.userId.toString() }));
}

describe("submitting a batch", () => {
  it("refuses an unknown policy (404), a FCFS one (409 WRONG_ISSUE_TYPE), and bad bodies (4xx) without writing anything", async () => {
    const before = await h.prisma.directBatch.count();
    expect((await submitJson("999999999", { userIds: ["1"] })).statusCode).toBe(404);
    const fcfs = await createPolicy(h.app, { issueType: "FCFS", totalQuantity: 5 });
    const wrong = await submitJson(fcfs.id, { userIds: ["1"] });
    expect(wrong.statusCode).toBe(409);
    expect(wrong.json().code).toBe("WRONG_ISSUE_TYPE");

    const direct = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: null });
    // Broken JSON, found after a few chunks' worth of good ids were already stored in the transaction.
    const broken = `{"userIds":[${ids(1000, 350).map((i) => `"${i}"`).join(",")}, oops]}`;
    const cases: [string, ReturnType<typeof submitJson>, number, string][] = [
      ["broken JSON late in the list", submitJson(direct.id, broken), 400, "VALIDATION"],
      ["truncated JSON", submitJson(direct.id, '{"userIds":["1","2"'), 400, "BAD_JSON"],
      ["another field", submitJson(direct.id, { userIds: ["1"], extra: 1 }), 400, "VALIDATION"],
      ["no userIds", submitJson(direct.id, {}), 400, "VALIDATION"],
      ["objects in the list", submitJson(direct.id, { userIds: [{ id: 1 }] }), 400, "VALIDATION"],
      ["an empty list", submitJson(direct.id, { userIds: [] }), 400, "VALIDATION"],
      ["an empty CSV", submitCsv(direct.id, "userId\n\n"), 400, "VALIDATION"],
      ["too many ids", submitCsv(direct.id, ids(1, 20_001).join("\n")), 413, "PAYLOAD_TOO_LARGE"],
      ["too many bytes", submitCsv(direct.id, "1\n".repeat(200_001)), 413, "PAYLOAD_TOO_LARGE"],
      ["an entry too long", submitJson(direct.id, { userIds: ["9".repeat(500)] }), 400, "VALIDATION"],
      [
        "another media type",
        h.app.inject({
          method: "POST",
          url: `/admin/policies/${direct.id}/direct-issues`,
          headers: { ...admin, "content-type": "text/plain" },
          payload: "1\n2",
        }),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      ],
    ];
    for (const [name, pending, status, code] of cases) {
      const res = await pending;
      expect(res.statusCode, `${name}: ${res.body}`).toBe(status);
      expect(res.headers["content-type"], name).toMatch(/application\/problem\+json/);
      expect(res.json().code, name).toBe(code);
    }
    expect(await h.prisma.directBatch.count()).toBe(before);
    expect(await h.prisma.directBatchChunk.count({ where: { batch: { policyId: BigInt(direct.id) } } })).toBe(0);
  });

  it("refuses a policy that is not issuing (403 NOT_OPEN), but gives a retried submission its batch", async () => {
    const before = await h.prisma.directBatch.count();
    const paused = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: null, status: "PAUSED" });
    const early = await createPolicy(h.app, {
      issueType: "DIRECT",
      totalQuantity: null,
      issueStartAt: new Date(Date.now() + 3_600_000).toISOString(),
      issueEndAt: new Date(Date.now() + 7_200_000).toISOString(),
    });
    for (const [name, policyId] of [["paused", paused.id], ["before its window", early.id]] as const) {
      const res = await submitJson(policyId, { userIds: ["1", "2"] });
      expect(res.statusCode, name).toBe(403);
      expect(res.json().code, name).toBe("NOT_OPEN");
    }
    expect(await h.prisma.directBatch.count()).toBe(before);

    const open = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: null });
    const key = { "idempotency-key": `closing-${randomBytes(4).toString("hex")}` };
    const first = await submitJson(open.id, { userIds: ["1"] }, key);
    expect(first.statusCode).toBe(202);
    const end = await h.app.inject({ method: "PATCH", url: `/admin/policies/${open.id}`, headers: admin, payload: { status: "ENDED" } });
    expect(end.statusCode).toBe(200);
    const again = await submitJson(open.id, { userIds: ["1"] }, key);
    expect(again.statusCode).toBe(202);
    expect(again.json().batchId).toBe(first.json().batchId);
    const fresh = await submitJson(open.id, { userIds: ["1"] });
    expect(fresh.statusCode).toBe(403);
    expect(fresh.json().detail).toMatch(/ENDED/);
  });

  it("other routes keep the small body limit and the default JSON parser", async () => {
    const res = await h.app.inject({
      method: "POST",
      url: "/admin/policies",
      headers: { ...admin, "content-type": "application/json" },
      payload: JSON.stringify({ name: "x".repeat(40_000) }),
    });
    expect(res.statusCode).toBe(413);
    const bad = await h.app.inject({ method: "POST", url: "/admin/policies", headers: { ...admin, "content-type": "application/json" }, payload: "{" });
    expect(bad.statusCode).toBe(400);
  });

  it("the same Idempotency-Key returns the same batch, also when sent twice at once; a queued batch cancels at once", async () => {
    const direct = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: null });
    const key = randomBytes(8).toString("hex");
    const [a, b] = await Promise.all([
      submitJson(direct.id, { userIds: ids(7000, 250) }, { "idempotency-key": key }),
      submitJson(direct.id, { userIds: ids(7000, 250) }, { "idempotency-key": key }),
    ]);
    expect(a.statusCode).toBe(202);
    expect(b.statusCode).toBe(202);
    expect(a.json().batchId).toBe(b.json().batchId);
    const again = await submitCsv(direct.id, ids(7000, 250).join("\n"), { "idempotency-key": key });
    expect(again.json().batchId).toBe(a.json().batchId);
    expect(await h.prisma.directBatch.count({ where: { policyId: BigInt(direct.id) } })).toBe(1);
    const stored = await h.prisma.directBatchChunk.findMany({ where: { batchId: BigInt(a.json().batchId) } });
    expect(stored.length).toBe(3);
    expect(stored.reduce((n, c) => n + c.userIds.length, 0)).toBe(250);

    const other = await submitJson(direct.id, { userIds: ids(7000, 10) });
    expect(other.json().batchId).not.toBe(a.json().batchId);

    // No worker runs yet: both are QUEUED; cancelling them is immediate, and a second cancel is 409.
    for (const id of [a.json().batchId, other.json().batchId]) {
      const cancel = await h.app.inject({ method: "POST", url: `/admin/batches/${id}/cancel`, headers: admin });
      expect(cancel.statusCode).toBe(200);
      expect(cancel.json().state).toBe("CANCELLED");
      const twice = await h.app.inject({ method: "POST", url: `/admin/batches/${id}/cancel`, headers: admin });
      expect(twice.statusCode).toBe(409);
      expect(twice.json().code).toBe("INVALID_STATE");
    }
    await ensureWorker();
    // The worker finds them cancelled and issues nothing.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await h.prisma.couponIssue.count({ where: { policyId: BigInt(direct.id) } })).toBe(0);
    expect((await batch(a.json().batchId)).state).toBe("CANCELLED");
    expect((await h.app.inject({ method: "GET", url: "/admin/batches/987654321", headers: admin })).statusCode).toBe(404);
  });
});

describe("issuing a batch", () => {
  beforeAll(ensureWorker);

  it("a JSON list ends COMPLETED with exact counts and a reason for each user left out", async () => {
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: null });
    // One user already holds the coupon from an earlier batch.
    const first = await submitJson(policy.id, { userIds: ["424242"] });
    expect((await finished(first.json().batchId)).state).toBe("COMPLETED");

    const good = ids(100_000, 230);
    const list = [...good, "424242", "abc", "0", "-5", "18446744073709551616", good[3]!, good[200]!, 100_017];
    const res = await submitJson(policy.id, { userIds: list });
    expect(res.statusCode).toBe(202);
    const b = await finished(res.json().batchId);
    expect(b).toMatchObject({ state: "COMPLETED", totalRequested: 238, processed: 238, successCount: 230, failureCount: 8, estimatedSecondsLeft: 0 });
    const f = await failures(res.json().batchId);
    const reasons = Object.fromEntries(f.map((x) => [`${x.userId}`, x.reason]));
    expect(f.length).toBe(8);
    expect(reasons).toMatchObject({
      "424242": "ALREADY_ISSUED",
      abc: "INVALID_USER_ID",
      "0": "INVALID_USER_ID",
      "-5": "INVALID_USER_ID",
      "18446744073709551616": "INVALID_USER_ID",
    });
    expect(f.filter((x) => x.reason === "DUPLICATE_IN_BATCH").map((x) => x.userId).sort()).toEqual([good[3], good[200], "100017"].sort());
    const coupons = await expectConsistent(policy.id);
    expect(coupons.length).toBe(231);
    // Progress is visible as metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${worker!.metricsPort}/metrics`)).text();
    const issuedMetric = /coupon_batch_users_total\{outcome="ISSUED"[^}]*\} (\d+)/.exec(metrics);
    expect(Number(issuedMetric?.[1])).toBeGreaterThanOrEqual(231);
    expect(metrics).toMatch(/coupon_batch_users_total\{outcome="ALREADY_ISSUED"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/coupon_batches_finished_total\{state="COMPLETED"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/coupon_batch_chunk_duration_seconds_count\{[^}]*\} [1-9]/);
    // The users' coupon lists show it at once (the cache was invalidated after the commit).
    const me = await h.app.inject({ method: "GET", url: "/me/coupons", headers: bearer((await import("../support/tokens.js")).userToken(good[0]!)) });
    // Other test files share the database and may give this user id coupons of their own policies.
    expect(me.json().filter((c: { policyId: string }) => c.policyId === policy.id)).toHaveLength(1);
  });

  it("a CSV list with a header and CRLF lines; past totalQuantity everyone is SOLD_OUT", async () => {
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: 150 });
    const list = ids(200_000, 260);
    const res = await submitCsv(policy.id, `userId\r\n${list.join("\r\n")}\r\n\r\n`);
    expect(res.statusCode).toBe(202);
    const b = await finished(res.json().batchId);
    expect(b).toMatchObject({ state: "COMPLETED", totalRequested: 260, processed: 260, successCount: 150, failureCount: 110 });
    const coupons = await expectConsistent(policy.id);
    // The first 150 of the list, in order.
    expect(coupons.map((c) => c.userId).sort()).toEqual(list.slice(0, 150).sort());
    const f = await failures(res.json().batchId);
    expect(f.every((x) => x.reason === "SOLD_OUT")).toBe(true);
    expect(f.map((x) => x.userId)).toEqual(list.slice(150));
  });

  it("where Redis is behind PostgreSQL, the insert refuses the holder (ALREADY_ISSUED) and Redis gets back the unit it took", async () => {
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: 100 });
    const first = await submitJson(policy.id, { userIds: ["515151"] });
    await finished(first.json().batchId);
    // Redis forgets the holder (as after a lost write): only PostgreSQL's unique key still knows.
    const k = h.keys.policy(policy.id);
    await h.redis.hdel(k.counts, "515151");
    await h.redis.hdel(k.first, "515151");
    await h.redis.decr(k.admitted);
    const res = await submitJson(policy.id, { userIds: ["515151", "515152"] });
    const b = await finished(res.json().batchId);
    expect(b).toMatchObject({ state: "COMPLETED", successCount: 1, failureCount: 1 });
    expect(await failures(res.json().batchId)).toEqual([{ userId: "515151", reason: "ALREADY_ISSUED" }]);
    // The batch changed Redis by exactly what it issued: one unit, one holder.
    expect(Number(await h.redis.get(k.admitted))).toBe(1);
    expect(await h.redis.hgetall(k.counts)).toEqual({ "515152": "1" });
    expect(await h.prisma.couponIssue.count({ where: { policyId: BigInt(policy.id) } })).toBe(2);
  });

  it("failures page with a Link header and download as streamed CSV", async () => {
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: 1 });
    const list = ids(300_000, 40);
    const res = await submitJson(policy.id, { userIds: [...list, "x,\"y"] });
    const batchId = res.json().batchId;
    await finished(batchId);
    const seen: string[] = [];
    let url: string | undefined = `/admin/batches/${batchId}/failures?limit=15`;
    while (url) {
      const page = await h.app.inject({ method: "GET", url, headers: admin });
      expect(page.statusCode).toBe(200);
      seen.push(...page.json().map((x: { userId: string }) => x.userId));
      const link = page.headers.link as string | undefined;
      url = link ? /<([^>]+)>; rel="next"/.exec(link)?.[1] : undefined;
    }
    expect(seen).toEqual(["x,\"y", ...list.slice(1)]);
    for (const how of [{ url: `/admin/batches/${batchId}/failures?format=csv`, accept: "*/*" }, { url: `/admin/batches/${batchId}/failures`, accept: "text/csv" }]) {
      const csv = await h.app.inject({ method: "GET", url: how.url, headers: { ...admin, accept: how.accept } });
      expect(csv.statusCode).toBe(200);
      expect(csv.headers["content-type"]).toMatch(/text\/csv/);
      const lines = csv.body.trim().split("\n");
      expect(lines[0]).toBe("userId,reason");
      expect(lines.length).toBe(41);
      expect(lines[1]).toBe('"x,""y",INVALID_USER_ID');
      expect(lines.slice(2)).toEqual(list.slice(1).map((u) => `${u},SOLD_OUT`));
    }
    expect((await h.app.inject({ method: "GET", url: `/admin/batches/${batchId}/failures?limit=1001`, headers: admin })).statusCode).toBe(400);
  });

  it("a running batch stops between chunks when cancelled", async () => {
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: null });
    const res = await submitJson(policy.id, { userIds: ids(400_000, 15_000) });
    const batchId = res.json().batchId;
    await waitFor("under way", async () => ((await batch(batchId)).processed as number) > 0, 30_000, 5);
    const cancel = await h.app.inject({ method: "POST", url: `/admin/batches/${batchId}/cancel`, headers: admin });
    expect(cancel.statusCode).toBe(200);
    const b = await finished(batchId);
    expect(b.state).toBe("CANCELLED");
    expect(b.processed as number).toBeLessThan(15_000);
    expect((b.processed as number) % CHUNK).toBe(0);
    const coupons = await expectConsistent(policy.id);
    expect(coupons.length).toBe(b.successCount);
    expect((await h.app.inject({ method: "POST", url: `/admin/batches/${batchId}/cancel`, headers: admin })).statusCode).toBe(409);
  });

  it("a policy that ends stops its batches still to do", async () => {
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: null });
    const running = (await submitJson(policy.id, { userIds: ids(600_000, 15_000) })).json().batchId;
    const next = (await submitJson(policy.id, { userIds: ids(700_000, 15_000) })).json().batchId;
    await waitFor("under way", async () => ((await batch(running)).processed as number) > 0, 30_000, 5);
    const end = await h.app.inject({ method: "PATCH", url: `/admin/policies/${policy.id}`, headers: admin, payload: { status: "ENDED" } });
    expect(end.statusCode).toBe(200);
    let issued = 0;
    for (const batchId of [running, next]) {
      const b = await finished(batchId);
      expect(b.state).toBe("CANCELLED");
      expect(b.processed as number).toBeLessThan(15_000);
      issued += b.successCount as number;
    }
    expect((await expectConsistent(policy.id)).length).toBe(issued);
  });
});

describe("crashes and races", () => {
  it("a batch stored by a gateway that died before its enqueue is found and issued by recovery", async () => {
    await ensureWorker();
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: null });
    // What the gateway's transaction commits, and then nothing: no job on the queue.
    const [row] = await h.prisma.$queryRaw<{ id: bigint }[]>`
      INSERT INTO direct_batches (policy_id, total_requested, created_at, queue_prefix)
      VALUES (${BigInt(policy.id)}, 3, now() - interval '1 minute', ${h.env.REDIS_PREFIX}) RETURNING id`;
    await h.prisma.$executeRaw`
      INSERT INTO direct_batch_chunks (batch_id, chunk_no, user_ids) VALUES (${row!.id}, 0, ${["810001", "810002", "810003"]}::bigint[])`;
    // A batch another deployment stored in the same database is not this worker's to issue.
    const [foreign] = await h.prisma.$queryRaw<{ id: bigint }[]>`
      INSERT INTO direct_batches (policy_id, total_requested, created_at, queue_prefix)
      VALUES (${BigInt(policy.id)}, 1, now() - interval '1 minute', 'another-deployment') RETURNING id`;
    await h.prisma.$executeRaw`
      INSERT INTO direct_batch_chunks (batch_id, chunk_no, user_ids) VALUES (${foreign!.id}, 0, ${["810009"]}::bigint[])`;
    const b = await finished(row!.id.toString(), 30_000);
    expect(b).toMatchObject({ state: "COMPLETED", processed: 3, successCount: 3 });
    await new Promise((r) => setTimeout(r, 2500)); // two more recovery rounds
    expect((await batch(foreign!.id.toString())).state).toBe("QUEUED");
    await h.prisma.directBatch.delete({ where: { id: foreign!.id } });
    expect((await expectConsistent(policy.id)).length).toBe(3);
  });

  it("a chunk whose Redis step ran before its worker died is not charged twice when redone", async () => {
    await ensureWorker();
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: 10 });
    const users = ["820001", "820002", "820003"];
    // Stored with no job yet (recovery enqueues it after RECOVERY_GRACE_MS)...
    const [row] = await h.prisma.$queryRaw<{ id: bigint }[]>`
      INSERT INTO direct_batches (policy_id, total_requested, queue_prefix)
      VALUES (${BigInt(policy.id)}, 3, ${h.env.REDIS_PREFIX}) RETURNING id`;
    const batchId = row!.id.toString();
    await h.prisma.$executeRaw`
      INSERT INTO direct_batch_chunks (batch_id, chunk_no, user_ids) VALUES (${row!.id}, 0, ${users}::bigint[])`;
    // ...and the Redis step of a worker that then died before its commit.
    const taken = await reserveDirectChunk(h.redis, h.keys, policy.id, batchId, 0, users);
    expect(taken).toEqual([{ slot: 1 }, { slot: 1 }, { slot: 1 }]);
    expect(Number(await h.redis.get(h.keys.policy(policy.id).admitted))).toBe(3);
    const b = await finished(batchId, 30_000);
    expect(b).toMatchObject({ state: "COMPLETED", successCount: 3 });
    expect((await expectConsistent(policy.id)).length).toBe(3);
  });

  it("a worker killed -9 mid-batch: a new one resumes it; final counts exact, nobody twice", async () => {
    await worker?.kill("SIGTERM");
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: 18_000 });
    const list = ids(500_000, 20_000);
    const res = await submitCsv(policy.id, list.join("\n"));
    const batchId = res.json().batchId;
    let w = await startWorker({ ...h.env, ...fastStall });
    procs.push(w);
    await waitFor("under way", async () => ((await batch(batchId)).processed as number) >= 2000, 30_000, 5);
    await w.kill("SIGKILL");
    const atKill = await batch(batchId);
    expect(atKill.state).toBe("RUNNING");
    expect(atKill.processed as number).toBeLessThan(20_000);
    w = await startWorker({ ...h.env, ...fastStall });
    procs.push(w);
    worker = w;
    const b = await finished(batchId, 90_000);
    expect(b).toMatchObject({ state: "COMPLETED", totalRequested: 20_000, processed: 20_000, successCount: 18_000, failureCount: 2000 });
    const coupons = await expectConsistent(policy.id);
    expect(coupons.length).toBe(18_000);
    const f = await h.prisma.directBatchFailure.findMany({ where: { batchId: BigInt(batchId) } });
    expect(f.length).toBe(2000);
    expect(f.every((x) => x.reason === "SOLD_OUT")).toBe(true);
    expect(new Set(f.map((x) => x.userId)).size).toBe(2000);
  }, 150_000);

  it("a batch and FCFS-style admissions drawing on the same stock at once never exceed totalQuantity", async () => {
    await ensureWorker();
    // DIRECT policies refuse the FCFS route (409 WRONG_ISSUE_TYPE), so the race runs the admission
    // script itself on the DIRECT policy's keys and persists its winners through the issue queue:
    // the same Lua step and the same persistence a FCFS request goes through.
    const total = 1000;
    const policy = await createPolicy(h.app, { issueType: "DIRECT", totalQuantity: total });
    const batchUsers = ids(600_000, 1500);
    const rushUsers = ids(700_000, 1500);
    const res = await submitJson(policy.id, { userIds: batchUsers });
    const batchId = res.json().batchId;
    const admitted: AdmissionRecord[] = [];
    let soldOut = 0;
    await Promise.all(
      Array.from({ length: 16 }, async (_, lane) => {
        for (let i = lane; i < rushUsers.length; i += 16) {
          const requestId = `${policy.id}-${randomBytes(8).toString("hex")}`;
          const k = h.keys.policy(policy.id);
          const r = (await h.redis.admitRequest(k.meta, k.admitted, k.counts, k.first, k.pending, k.pendingAt, rushUsers[i]!, requestId, "DIRECT", "")) as number[];
          if (r[0] === 1) {
            const a = { requestId, policyId: policy.id, userId: rushUsers[i]!, slot: Number(r[1]), admittedAt: Number(r[2]), clientIp: "" };
            admitted.push(a);
            await h.queue.add(PERSIST_JOB, { admissions: [a] });
          } else {
            expect(r[0]).toBe(-5);
            soldOut++;
          }
        }
      }),
    );
    const b = await finished(batchId);
    await waitFor("the rush persisted", async () => (await h.redis.hlen(h.keys.policy(policy.id).pending)) === 0, 30_000, 100);
    const coupons = await expectConsistent(policy.id);
    expect(coupons.length).toBe(total);
    // Both sides got some of the stock: the two really competed.
    expect(b.successCount as number).toBeGreaterThan(0);
    expect(admitted.length).toBeGreaterThan(0);
    expect((b.successCount as number) + admitted.length).toBe(total);
    expect(soldOut).toBe(rushUsers.length - admitted.length);
  }, 90_000);
});
