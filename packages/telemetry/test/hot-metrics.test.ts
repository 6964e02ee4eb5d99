// The hot counter and histogram must read, in the registry's text, exactly as prom-client's own
// Counter and Histogram do after the same calls.
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { HotCounter, HotHistogram } from "../src/hot-metrics.js";
import { LATENCY_BUCKETS } from "../src/metrics.js";

function registries(): [Registry, Registry] {
  const ours = new Registry();
  const theirs = new Registry();
  for (const r of [ours, theirs]) r.setDefaultLabels({ service: "test" });
  return [ours, theirs];
}

describe("hot metrics", () => {
  it("a counter reads as prom-client's Counter", async () => {
    const [ours, theirs] = registries();
    const opts = { name: "x_requests_total", help: "Requests by way and outcome", labelNames: ["way", "outcome"] as const };
    const hot = new HotCounter({ ...opts, registers: [ours] });
    const ref = new Counter({ ...opts, registers: [theirs] });
    const calls: [string, string, number][] = [["FCFS", "SOLD_OUT", 5], ["FCFS", "ADMITTED", 2], ["CODE", "SOLD_OUT", 1]];
    for (const [way, outcome, n] of calls) {
      const child = hot.labels(way, outcome);
      for (let i = 0; i < n; i++) {
        child.inc();
        ref.labels(way, outcome).inc();
      }
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('x_requests_total{way="FCFS",outcome="SOLD_OUT",service="test"} 5');
    ours.resetMetrics();
    theirs.resetMetrics();
    hot.labels("FCFS", "SOLD_OUT").inc();
    expect(await ours.metrics()).toContain('x_requests_total{way="FCFS",outcome="SOLD_OUT",service="test"} 1');
  });

  it("a histogram reads as prom-client's Histogram, edges and +Inf included", async () => {
    const [ours, theirs] = registries();
    const opts = { name: "x_duration_seconds", help: "Durations", labelNames: ["way"] as const, buckets: LATENCY_BUCKETS };
    const hot = new HotHistogram({ ...opts, registers: [ours] });
    const ref = new Histogram({ ...opts, registers: [theirs] });
    const values = [0, 0.0001, 0.0005, 0.00051, 0.003, 0.025, 0.7, 10, 11, 1234];
    for (const way of ["FCFS", "CODE"]) {
      const child = hot.labels(way);
      for (const v of way === "FCFS" ? values : values.slice(3)) {
        child.observe(v);
        ref.labels(way).observe(v);
      }
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('x_duration_seconds_bucket{le="0.0005",service="test",way="FCFS"} 3');
  });

  it("refuses label values that do not match its label names", () => {
    const hot = new HotCounter({ name: "y_total", help: "y", labelNames: ["a", "b"], registers: [] });
    expect(() => hot.labels("only-one")).toThrow(/2 label values/);
  });
});
