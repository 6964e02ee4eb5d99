// Read-only looks into a sandbox's Redis: a policy's admission counters and what waits in the
// issue queue (how many jobs, how many admissions they carry).
import { createIssueQueue } from "@coupon/queue";
import { KeySpace, createRedisClient } from "@coupon/redis";

export async function openRedisView(sandbox) {
  const keys = new KeySpace(sandbox.env.REDIS_PREFIX);
  const redis = createRedisClient(sandbox.env.REDIS_URL, { name: "bench" });
  const queue = createIssueQueue(redis, keys.queuePrefix());
  return {
    keys,
    redis,
    queue,
    admitted: async (policyId) => Number((await redis.get(keys.policy(policyId).admitted)) ?? 0),
    pending: (policyId) => redis.hlen(keys.policy(policyId).pending),
    /** Jobs waiting in the issue queue and the admissions they carry, per policy. */
    async queuedAdmissions() {
      const counts = await queue.getJobCounts();
      const jobs = [];
      const pageSize = 1000;
      for (let start = 0; ; start += pageSize) {
        const page = await queue.getJobs(["waiting", "prioritized", "delayed", "active", "paused"], start, start + pageSize - 1, true);
        jobs.push(...page);
        if (page.length < pageSize) break;
      }
      const byPolicy = new Map();
      let admissions = 0;
      for (const job of jobs) {
        for (const a of job?.data?.admissions ?? []) {
          admissions++;
          byPolicy.set(a.policyId, (byPolicy.get(a.policyId) ?? 0) + 1);
        }
      }
      return { counts, jobs: jobs.length, admissions, byPolicy };
    },
    async close() {
      await queue.close().catch(() => {});
      redis.disconnect();
    },
  };
}
