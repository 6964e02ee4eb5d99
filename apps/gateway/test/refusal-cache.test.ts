import { describe, expect, it } from "vitest";
import { RefusalCache } from "../src/services/refusal-cache.js";

describe("RefusalCache", () => {
  it("answers a sold-out policy until its time runs out or it is invalidated", () => {
    let now = 1000;
    const cache = new RefusalCache(500, 10, () => now);
    expect(cache.lookup("FCFS", "1", "u")).toBeNull();
    cache.noteSoldOut("FCFS", "1");
    expect(cache.lookup("FCFS", "1", "u")).toEqual({ code: "SOLD_OUT" });
    expect(cache.lookup("CODE", "1", "u")).toBeNull();
    now += 501;
    expect(cache.lookup("FCFS", "1", "u")).toBeNull();
    cache.noteSoldOut("FCFS", "1");
    cache.invalidate("1");
    expect(cache.lookup("FCFS", "1", "u")).toBeNull();
  });

  it("answers holders ALREADY_ISSUED with their first request, before sold out", () => {
    const cache = new RefusalCache(500, 10);
    cache.noteSoldOut("FCFS", "1");
    cache.noteHolder("FCFS", "1", "u1", "1-first");
    expect(cache.lookup("FCFS", "1", "u1")).toEqual({ code: "ALREADY_ISSUED", firstRequestId: "1-first" });
    expect(cache.lookup("FCFS", "1", "u2")).toEqual({ code: "SOLD_OUT" });
    cache.invalidate("1");
    expect(cache.lookup("FCFS", "1", "u1")).toBeNull();
  });

  it("keeps at most maxHolders, dropping the policy cached first", () => {
    const cache = new RefusalCache(500, 3);
    cache.noteHolder("FCFS", "1", "a", "r");
    cache.noteHolder("FCFS", "1", "b", "r");
    cache.noteHolder("FCFS", "2", "c", "r");
    cache.noteHolder("FCFS", "2", "d", "r");
    expect(cache.lookup("FCFS", "1", "a")).toBeNull();
    expect(cache.lookup("FCFS", "2", "d")).not.toBeNull();
  });

  it("answers a hit with the object noted, not a new one per lookup", () => {
    const cache = new RefusalCache(500, 10);
    cache.noteSoldOut("FCFS", "1");
    cache.noteHolder("FCFS", "1", "u1", "1-first");
    expect(cache.lookup("FCFS", "1", "u1")).toBe(cache.lookup("FCFS", "1", "u1"));
    expect(cache.lookup("FCFS", "1", "u2")).toBe(cache.lookup("FCFS", "1", "u3"));
  });

  it("forgets what was noted for one way once Redis answers the other way", () => {
    const cache = new RefusalCache(500, 10);
    cache.noteHolder("CODE", "1", "u1", "1-first");
    cache.noteSoldOut("CODE", "1");
    expect(cache.lookup("FCFS", "1", "u1")).toBeNull();
    cache.noteSoldOut("FCFS", "1");
    expect(cache.lookup("CODE", "1", "u1")).toBeNull();
    expect(cache.lookup("FCFS", "1", "u1")).toEqual({ code: "SOLD_OUT" });
  });

  it("is off with a zero time", () => {
    const cache = new RefusalCache(0, 3);
    cache.noteSoldOut("FCFS", "1");
    cache.noteHolder("FCFS", "1", "a", "r");
    expect(cache.lookup("FCFS", "1", "a")).toBeNull();
  });
});
