// The shipped alert rules: valid for promtool, their unit tests pass, and the failure-rate rule
// knows every 5xx problem code the service can answer.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ERRORS } from "@coupon/domain";
import { describe, expect, it } from "vitest";
import { ROOT, promtool } from "../support/prometheus.js";

describe("alert rules", () => {
  it("pass promtool check rules", () => {
    const r = promtool(["check", "rules", "ops/prometheus/alerts.yml"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: 16 rules found/);
  });

  it("pass their promtool unit tests", () => {
    const r = promtool(["test", "rules", "ops/prometheus/alerts.test.yml"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS/);
  });

  it("the prometheus.yml shipped for docker compose loads them", () => {
    const r = promtool(["check", "config", "ops/prometheus/prometheus.yml"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it("count every problem code with a 5xx status as an issue failure", () => {
    const rules = readFileSync(join(ROOT, "ops/prometheus/alerts.yml"), "utf8");
    const regex = /coupon_issue_requests_total\{outcome=~"([^"]+)"\}/.exec(rules)?.[1];
    expect(regex).toBeDefined();
    const listed = new Set((regex as string).split("|"));
    const serverErrors = Object.entries(ERRORS).filter(([, e]) => e.status >= 500).map(([code]) => code);
    expect(serverErrors.length).toBeGreaterThan(0);
    for (const code of serverErrors) expect(listed.has(code), `${code} missing from the failure-rate outcomes`).toBe(true);
  });
});
