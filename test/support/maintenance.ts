// Drives the maintenance jobs the way an operator does: POST /admin/schedules/:name/run, then
// waits for the job on the maintenance queue and returns what the worker recorded for it.
import type { FastifyInstance } from "fastify";
import type { Queue } from "bullmq";
import { adminToken, bearer } from "./tokens.js";
import { waitFor } from "./wait.js";

export interface JobRun {
  outcome: "ok" | "skipped" | "failed";
  result: Record<string, number>;
}

export async function triggerJob(app: FastifyInstance, name: string): Promise<string> {
  const res = await app.inject({ method: "POST", url: `/admin/schedules/${name}/run`, headers: bearer(adminToken()) });
  if (res.statusCode !== 202) throw new Error(`run ${name}: ${res.statusCode} ${res.body}`);
  return (res.json() as { jobId: string }).jobId;
}

export async function jobResult(queue: Queue, jobId: string, timeoutMs = 60_000): Promise<JobRun> {
  return waitFor(
    `maintenance job ${jobId}`,
    async () => {
      const job = await queue.getJob(jobId);
      if (!job) return null;
      if (job.failedReason) throw new Error(`job ${jobId} failed: ${job.failedReason}`);
      return job.finishedOn ? (job.returnvalue as JobRun) : null;
    },
    timeoutMs,
    50,
  );
}

export async function runJob(app: FastifyInstance, queue: Queue, name: string): Promise<JobRun> {
  return jobResult(queue, await triggerJob(app, name));
}
