// Both apps' /metrics after a small burst: counted as expected, clean for `promtool check metrics`,
// and scraped by a real Prometheus that loads the shipped alert rules and answers every query of
// the shipped Grafana dashboard.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { stampede } from "../support/load.js";
import { startGateway, startWorker, type Proc } from "../support/processes.js";
import { ROOT, promtool, startPrometheus, type PrometheusServer } from "../support/prometheus.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
let gateway: Proc & { url: string };
let worker: Proc & { metricsPort: number };
let prometheus: PrometheusServer | undefined;
const procs: Proc[] = [];

const scrape = async (url: string): Promise<string> => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
};
const gatewayMetrics = () => scrape(`${gateway.url}/metrics`);
const workerMetrics = () => scrape(`http://127.0.0.1:${worker.metricsPort}/metrics`);

/** The value of the one sample of `name` whose labels include every `labels` pair. */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

beforeAll(async () => {
  h = await startHarness();
  // Recovery runs every second, so a scheduler success is recorded within the test.
  const env = { ...h.env, RECOVERY_EVERY_MS: "1000" };
  gateway = await startGateway(env);
  worker = await startWorker(env);
  procs.push(gateway, worker);
  const policy = await createPolicy(h.app, { totalQuantity: 50 });
  const users = Array.from({ length: 80 }, (_, i) => String(70_000 + i));
  const shots = await stampede([gateway.url], `/policies/${policy.id}/issue`, users, 16);
  expect(shots.filter((s) => s.status === 202)).toHaveLength(50);
  // An answer from a hook, not the handler: still counted, by its problem code.
  expect((await fetch(`${gateway.url}/policies/${policy.id}/issue`, { method: "POST" })).status).toBe(401);
  await waitFor("50 coupons persisted", async () => value(await workerMetrics(), "coupon_issued_total", { way: "admission" }) === 50, 30_000, 200);
  // Queue figures are read at scrape time and shared for 250 ms, so a scrape may still show the
  // queue as it was a moment ago, even from before the first job was enqueued (nothing waiting,
  // nothing completed): wait for one taken after the jobs ran.
  await waitFor(
    "a scrape showing the queue drained",
    async () => {
      const text = await workerMetrics();
      const jobs = (state: string) => value(text, "coupon_queue_jobs", { queue: "issue", state });
      return jobs("waiting") === 0 && jobs("active") === 0 && (jobs("completed") ?? 0) >= 1;
    },
    30_000,
    300,
  );
});

afterAll(async () => {
  await prometheus?.stop();
  await Promise.all(procs.map((p) => p.kill("SIGTERM")));
  await h?.close();
});

describe("metrics", () => {
  it("the gateway counts every answer of the issue endpoints by outcome", async () => {
    const text = await gatewayMetrics();
    expect(value(text, "coupon_issue_requests_total", { way: "FCFS", outcome: "ADMITTED" })).toBe(50);
    expect(value(text, "coupon_issue_requests_total", { way: "FCFS", outcome: "SOLD_OUT" })).toBe(30);
    expect(value(text, "coupon_issue_requests_total", { way: "FCFS", outcome: "UNAUTHORIZED" })).toBe(1);
    expect(value(text, "coupon_admission_duration_seconds_count", { way: "FCFS" })).toBe(80);
    expect(text).toMatch(/# TYPE coupon_admission_errors_total counter/);
  });

  it("the worker reports persistence, queues and scheduler runs", async () => {
    const text = await workerMetrics();
    expect(value(text, "coupon_persistence_latency_seconds_count", {})).toBe(50);
    expect(value(text, "coupon_queue_jobs", { queue: "issue", state: "waiting" })).toBe(0);
    expect(value(text, "coupon_queue_jobs", { queue: "issue", state: "completed" })).toBeGreaterThanOrEqual(1);
    expect(value(text, "coupon_queue_oldest_waiting_age_seconds", { queue: "issue" })).toBe(0);
    expect(value(text, "coupon_queue_collect_errors_total", {})).toBe(0);
    const lastSuccess = value(text, "coupon_scheduler_last_success_timestamp_seconds", { name: "recover-admissions" });
    expect(lastSuccess).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(value(text, "coupon_job_duration_seconds_count", { queue: "issue", name: "persist" })).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ["gateway", gatewayMetrics],
    ["worker", workerMetrics],
  ])("the %s's /metrics passes promtool check metrics", async (_name, get) => {
    const r = promtool(["check", "metrics"], await get());
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect((r.stdout + r.stderr).trim()).toBe("");
  });
});

describe("a real Prometheus", () => {
  it("scrapes both apps, loads the alert rules, and evaluates every dashboard query", async () => {
    const host = (u: string) => new URL(u).host;
    prometheus = await startPrometheus(
      { gateway: host(gateway.url), worker: `127.0.0.1:${worker.metricsPort}` },
      [join(ROOT, "ops/prometheus/alerts.yml")],
    );
    const p = prometheus;
    type Vector = { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    const series = async (q: string) => (await p.api<Vector>("query", { query: q })).result;

    await waitFor("both targets up", async () => (await series('up == 1')).length === 2, 30_000, 250);
    // Another small burst while Prometheus watches, so rates have something to show.
    const policy = await createPolicy(h.app, { totalQuantity: 10 });
    await stampede([gateway.url], `/policies/${policy.id}/issue`, Array.from({ length: 20 }, (_, i) => String(80_000 + i)), 8);
    for (const q of [
      'up{job="gateway"} == 1',
      'up{job="worker"} == 1',
      'coupon_issue_requests_total{job="gateway",outcome="ADMITTED"}',
      'coupon_admission_duration_seconds_bucket{job="gateway",le="+Inf"}',
      'coupon_issued_total{job="worker",way="admission"} >= 60',
      'coupon_queue_jobs{job="worker",queue="issue",state="waiting"}',
      'coupon_queue_oldest_waiting_age_seconds{job="worker",queue="issue"}',
      'coupon_persistence_latency_seconds_bucket{job="worker",le="+Inf"}',
      'coupon_scheduler_last_success_timestamp_seconds{job="worker",name="recover-admissions"}',
      'process_resident_memory_bytes{job="worker"}',
    ]) {
      await waitFor(`${q} in Prometheus\n${p.output()}`, async () => (await series(q)).length > 0, 30_000, 250);
    }

    type Rules = { groups: { name: string; rules: { name: string; type: string; health: string; lastError?: string }[] }[] };
    const alertsFile = readFileSync(join(ROOT, "ops/prometheus/alerts.yml"), "utf8");
    const shipped = [...alertsFile.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(shipped.length).toBe(16);
    const rules = await waitFor(
      "every rule evaluated",
      async () => {
        const r = (await p.api<Rules>("rules")).groups.flatMap((g) => g.rules);
        return r.length === shipped.length && r.every((x) => x.health !== "unknown") ? r : null;
      },
      30_000,
      250,
    );
    expect(rules.map((r) => r.name).sort()).toEqual([...shipped].sort());
    for (const r of rules) expect({ name: r.name, type: r.type, health: r.health, err: r.lastError ?? "" }).toEqual({ name: r.name, type: "alerting", health: "ok", err: "" });
    // Both processes are up: their absence alerts must clear. A rule evaluated before a target's
    // first scrape may have gone pending; the next evaluation after the scrape must drop it.
    type Alerts = { alerts: { labels: Record<string, string>; state: string }[] };
    await waitFor(
      "CouponNoWorker and CouponNoGateway neither pending nor firing",
      async () => {
        const active = (await p.api<Alerts>("alerts")).alerts.map((a) => a.labels.alertname);
        return !active.includes("CouponNoWorker") && !active.includes("CouponNoGateway");
      },
      30_000,
      250,
    );

    type Dashboard = { panels: { title: string; targets?: { expr: string }[] }[] };
    const dashboard = JSON.parse(readFileSync(join(ROOT, "ops/grafana/dashboards/coupon-issuance.json"), "utf8")) as Dashboard;
    const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((t) => ({ panel: panel.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(20);
    for (const { panel, expr } of exprs) {
      await expect(p.api("query", { query: expr }), `${panel}: ${expr}`).resolves.toBeDefined();
    }
    // The panels an operator reads during a burst show data here, not an empty graph.
    for (const title of ["Issue requests/s by outcome", "Admission latency", "Queue depth by state", "Up"]) {
      const panel = dashboard.panels.find((x) => x.title === title);
      expect(panel, title).toBeDefined();
      const expr = panel?.targets?.[0]?.expr as string;
      // rate() needs two scrapes inside its window; the burst may have landed before the second.
      await waitFor(`${title}: ${expr} has data\n${p.output()}`, async () => (await series(expr)).length > 0, 30_000, 250);
    }
  });
});
