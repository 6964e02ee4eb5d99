// Admissions made exactly as the gateway makes them: the admission Lua script through
// admitRequest, then persist jobs of ISSUE_BATCH_MAX admissions each on the issue queue.
import { makeRequestId, randomRequestToken } from "@coupon/domain";
import { PERSIST_JOB, createIssueQueue } from "@coupon/queue";
import { KeySpace, admitRequest, createRedisClient, withScripts } from "@coupon/redis";

const CLIENT_IP = "127.0.0.1";
const IN_FLIGHT = 2_000;

/** Admits users firstUserId … firstUserId+n-1 to the policy and enqueues them; returns the timings. */
export async function preloadAdmissions(sandbox, policyId, n, firstUserId, batchMax) {
  const keys = new KeySpace(sandbox.env.REDIS_PREFIX);
  const redis = withScripts(createRedisClient(sandbox.env.REDIS_URL, { name: "bench-preload" }));
  const queueConnection = createRedisClient(sandbox.env.REDIS_URL, { name: "bench-preload-queue" });
  const queue = createIssueQueue(queueConnection, keys.queuePrefix());
  try {
    const t0 = performance.now();
    const admissions = new Array(n);
    const refused = [];
    for (let start = 0; start < n; start += IN_FLIGHT) {
      const end = Math.min(n, start + IN_FLIGHT);
      const pending = [];
      for (let i = start; i < end; i++) {
        const userId = String(firstUserId + i);
        const requestId = makeRequestId(policyId, randomRequestToken());
        pending.push(
          admitRequest(redis, keys, { policyId, userId, requestId, way: "FCFS", clientIp: CLIENT_IP }).then((a) => {
            if (!a.ok) refused.push(a.code);
            else admissions[i] = { requestId, policyId, userId, slot: a.slot, admittedAt: a.admittedAt, clientIp: CLIENT_IP };
          }),
        );
      }
      await Promise.all(pending);
    }
    if (refused.length) throw new Error(`preload: ${refused.length} admissions refused (first: ${refused[0]})`);
    const admittedMs = performance.now() - t0;

    const t1 = performance.now();
    const adds = [];
    for (let i = 0; i < n; i += batchMax) adds.push(queue.add(PERSIST_JOB, { admissions: admissions.slice(i, i + batchMax) }));
    await Promise.all(adds);
    return { admittedMs, enqueuedMs: performance.now() - t1, jobs: adds.length };
  } finally {
    await queue.close().catch(() => {});
    redis.disconnect();
    queueConnection.disconnect();
  }
}
