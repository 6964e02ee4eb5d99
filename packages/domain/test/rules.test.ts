import { describe, expect, it } from "vitest";
import {
  canChangePolicyStatus,
  canTransition,
  couponExpiry,
  makeRequestId,
  isId,
  isIssuing,
  parseId,
  policyDraftProblems,
  policyIdOfRequest,
  randomRequestToken,
  type PolicyDraft,
} from "../src/index.js";

const draft = (over: Partial<PolicyDraft> = {}): PolicyDraft => ({
  name: "n",
  issueType: "FCFS",
  code: null,
  totalQuantity: 10,
  perUserLimit: 1,
  validDays: 7,
  validUntil: null,
  issueStartAt: new Date("2026-01-01T00:00:00Z"),
  issueEndAt: new Date("2026-01-02T00:00:00Z"),
  discountType: "FIXED",
  discountValue: 1000,
  ...over,
});

describe("ids", () => {
  it("take positive signed 64-bit decimals only", () => {
    expect(parseId("1")).toBe(1n);
    expect(parseId("9223372036854775807")).toBe(9223372036854775807n);
    expect(parseId("999999999999999999")).toBe(999999999999999999n);
    expect(parseId("1000000000000000000")).toBe(1000000000000000000n);
    for (const bad of ["0", "-1", "01", "9223372036854775808", "9300000000000000000", "99999999999999999999", "1e3", " 1", 1, null]) {
      expect(parseId(bad)).toBeNull();
      expect(isId(bad)).toBe(false);
    }
  });
});

describe("issuing window", () => {
  const start = new Date("2026-11-25T10:00:00Z");
  const end = new Date("2026-11-25T12:00:00Z");
  it("is open while ACTIVE from the start, inclusive, to the end, exclusive", () => {
    const at = (iso: string, status: "ACTIVE" | "PAUSED" | "ENDED" = "ACTIVE") =>
      isIssuing({ status, issueStartAt: start, issueEndAt: end }, new Date(iso));
    expect(at("2026-11-25T09:59:59.999Z")).toBe(false);
    expect(at("2026-11-25T10:00:00.000Z")).toBe(true);
    expect(at("2026-11-25T11:59:59.999Z")).toBe(true);
    expect(at("2026-11-25T12:00:00.000Z")).toBe(false);
    expect(at("2026-11-25T11:00:00Z", "PAUSED")).toBe(false);
    expect(at("2026-11-25T11:00:00Z", "ENDED")).toBe(false);
  });
});

describe("coupon state machine", () => {
  it("allows exactly the spec's moves", () => {
    const allowed = new Set([
      "ISSUED>RESERVED",
      "ISSUED>EXPIRED",
      "ISSUED>CANCELLED",
      "RESERVED>USED",
      "RESERVED>ISSUED",
      "USED>CANCELLED",
    ]);
    const all = ["ISSUED", "RESERVED", "USED", "EXPIRED", "CANCELLED"] as const;
    for (const from of all) for (const to of all) expect(canTransition(from, to)).toBe(allowed.has(`${from}>${to}`));
  });
});

describe("policies", () => {
  it("accept a sound FCFS draft", () => {
    expect(policyDraftProblems(draft())).toEqual([]);
  });
  it("name every broken cross-field rule", () => {
    expect(policyDraftProblems(draft({ totalQuantity: null }))).toContain("totalQuantity is required for FCFS");
    expect(policyDraftProblems(draft({ issueType: "CODE" }))).toContain("code is required for CODE");
    expect(policyDraftProblems(draft({ code: "X1" }))).toContain("code is only for CODE policies");
    expect(policyDraftProblems(draft({ validDays: null }))).toContain("validDays or validUntil is required");
    expect(policyDraftProblems(draft({ issueEndAt: new Date("2025-12-31T00:00:00Z") }))).toContain(
      "issueEndAt must be after issueStartAt",
    );
    expect(policyDraftProblems(draft({ discountType: "PERCENT", discountValue: 101 }))).toHaveLength(1);
  });
  it("expire coupons at the earlier of validDays and validUntil", () => {
    const at = new Date("2026-01-01T00:00:00Z");
    expect(couponExpiry({ validDays: 2, validUntil: null }, at).toISOString()).toBe("2026-01-03T00:00:00.000Z");
    const until = new Date("2026-01-02T00:00:00Z");
    expect(couponExpiry({ validDays: 2, validUntil: until }, at)).toEqual(until);
    expect(couponExpiry({ validDays: null, validUntil: until }, at)).toEqual(until);
  });
  it("move ACTIVE, PAUSED and ENDED only forward or back as allowed", () => {
    expect(canChangePolicyStatus("ACTIVE", "PAUSED")).toBe(true);
    expect(canChangePolicyStatus("PAUSED", "ACTIVE")).toBe(true);
    expect(canChangePolicyStatus("ENDED", "ACTIVE")).toBe(false);
  });
});

describe("request ids", () => {
  it("carry their policy and are unguessable", () => {
    const id = makeRequestId(42n, randomRequestToken());
    expect(policyIdOfRequest(id)).toBe("42");
    expect(policyIdOfRequest("x-abc")).toBeNull();
    expect(policyIdOfRequest("42-short")).toBeNull();
    expect(new Set(Array.from({ length: 1000 }, randomRequestToken)).size).toBe(1000);
  });
});
