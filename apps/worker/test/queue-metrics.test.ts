// Queue depth and lag read at scrape time, on the real Redis; and a scrape that cannot reach
// Redis still answers, promptly, without the queue series.
import { KeySpace, createRedisClient } from "@coupon/redis";
import { createRegistry, queueMetrics } from "@coupon/telemetry";
import { Queue } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";
import { testEnv } from "../../../test/support/env.js";
import { deleteKeys } from "../../../test/support/harness.js";
import { freePort } from "../../../test/support/processes.js";
import { queueSnapshot } from "../src/queue-snapshot.js";

const env = testEnv();
const connection = createRedisClient(env.REDIS_URL, { forWorker: true });
const prefix = new KeySpace(env.REDIS_PREFIX).queuePrefix();
const queue = new Queue("issue", { connection, prefix });

afterAll(async () => {
  await queue.close();
  await deleteKeys(connection, `${env.REDIS_PREFIX}:*`);
  await connection.quit();
});

const sample = (text: string, name: string, labels: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(" ").pop());
};

describe("queue metrics", () => {
  it("report jobs per state and the age of the oldest waiting job", async () => {
    const registry = createRegistry("worker");
    queueMetrics(registry, queueSnapshot(connection, [queue]));
    let text = await registry.metrics();
    expect(sample(text, "coupon_queue_jobs", 'state="waiting"')).toBe(0);
    expect(sample(text, "coupon_queue_oldest_waiting_age_seconds", 'queue="issue"')).toBe(0);

    await queue.add("persist", { n: 1 });
    await new Promise((r) => setTimeout(r, 600));
    await queue.add("persist", { n: 2 });
    await queue.add("persist", { n: 3 }, { delay: 60_000 });
    text = await registry.metrics();
    expect(sample(text, "coupon_queue_jobs", 'queue="issue",state="waiting"')).toBe(2);
    expect(sample(text, "coupon_queue_jobs", 'queue="issue",state="delayed"')).toBe(1);
    expect(sample(text, "coupon_queue_jobs", 'queue="issue",state="active"')).toBe(0);
    // The first job's age, not the newest's.
    const age = sample(text, "coupon_queue_oldest_waiting_age_seconds", 'queue="issue"') as number;
    expect(age).toBeGreaterThanOrEqual(0.6);
    expect(age).toBeLessThan(10);
    expect(text).toMatch(/coupon_queue_collect_errors_total\{service="worker"\} 0/);
  });

  it("a scrape that cannot reach Redis answers within the timeout, without queue series", async () => {
    // A port nobody listens on, with the worker's settings: commands wait for a connection forever.
    const dead = createRedisClient(`redis://127.0.0.1:${await freePort()}`, { forWorker: true });
    dead.on("error", () => {});
    const deadQueue = new Queue("issue", { connection: dead, prefix });
    deadQueue.on("error", () => {});
    try {
      const registry = createRegistry("worker");
      queueMetrics(registry, queueSnapshot(dead, [deadQueue]), 300);
      for (let i = 1; i <= 2; i++) {
        const started = Date.now();
        const text = await registry.metrics();
        expect(Date.now() - started).toBeLessThan(2000);
        expect(text).not.toMatch(/^coupon_queue_jobs\{/m);
        expect(text).not.toMatch(/^coupon_queue_oldest_waiting_age_seconds\{/m);
        expect(text).toMatch(/process_cpu_seconds_total/);
        expect(sample(text, "coupon_queue_collect_errors_total", 'service="worker"')).toBe(i);
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      dead.disconnect();
    }
  });

  it("a snapshot that throws is counted, not thrown", async () => {
    const registry = createRegistry("worker");
    queueMetrics(registry, () => Promise.reject(new Error("boom")));
    const text = await registry.metrics();
    expect(sample(text, "coupon_queue_collect_errors_total", 'service="worker"')).toBe(1);
    expect(text).not.toMatch(/^coupon_queue_jobs\{/m);
  });
});
