import { describe, expect, it } from "vitest";
import { HOLDER_LOAD_TIMEOUT_MS, RefusalCache } from "../src/services/refusal-cache.js";

/** Notes a sell-out and completes its holder snapshot with `holders` (userId -> first requestId). */
function soldOut(cache: RefusalCache, policyId: string, holders: Record<string, string> = {}, way: "FCFS" | "CODE" = "FCFS") {
  const load = cache.noteSoldOut(way, policyId);
  if (load) cache.completeHolderLoad(load, new Map(Object.entries(holders)));
}

describe("RefusalCache", () => {
  it("answers a sold-out policy until its time runs out or it is invalidated", () => {
    let now = 1000;
    const cache = new RefusalCache(500, 10, () => now);
    expect(cache.lookup("FCFS", "1", "u")).toBeNull();
    soldOut(cache, "1");
    expect(cache.lookup("FCFS", "1", "u")).toEqual({ code: "SOLD_OUT" });
    expect(cache.lookup("CODE", "1", "u")).toBeNull();
    now += 501;
    expect(cache.lookup("FCFS", "1", "u")).toBeNull();
    expect(cache.noteSoldOut("FCFS", "1")).toBeNull(); // the snapshot is still good
    expect(cache.lookup("FCFS", "1", "u")).toEqual({ code: "SOLD_OUT" });
    cache.invalidate("1");
    expect(cache.lookup("FCFS", "1", "u")).toBeNull();
  });

  it("when sold out runs out, sends one request to Redis to renew it and answers the rest from memory for one more period at most", () => {
    let now = 1000;
    const cache = new RefusalCache(500, 10, () => now);
    soldOut(cache, "1");
    cache.noteAsking("FCFS", "1"); // not run out yet: not a renewal
    now += 500;
    // Lookups alone change nothing: every caller that finds nothing may still ask Redis...
    expect(cache.lookup("FCFS", "1", "u1")).toBeNull();
    expect(cache.lookup("FCFS", "1", "u1")).toBeNull();
    // ...until one of them leaves for Redis: the renewal.
    cache.noteAsking("CODE", "1"); // the other way: not this entry's renewal
    expect(cache.lookup("FCFS", "1", "u2")).toBeNull();
    cache.noteAsking("FCFS", "1");
    expect(cache.lookup("FCFS", "1", "u2")).toEqual({ code: "SOLD_OUT" });
    expect(cache.lookup("FCFS", "1", "u3")).toEqual({ code: "SOLD_OUT" });
    // Redis said SOLD_OUT again: a full period from now, and the next renewal is one request again.
    expect(cache.noteSoldOut("FCFS", "1")).toBeNull();
    now += 499;
    expect(cache.lookup("FCFS", "1", "u1")).toEqual({ code: "SOLD_OUT" });
    now += 1;
    expect(cache.lookup("FCFS", "1", "u1")).toBeNull();
    cache.noteAsking("FCFS", "1");
    expect(cache.lookup("FCFS", "1", "u2")).toEqual({ code: "SOLD_OUT" });
    // The renewal never came back (a rate limit, an error): one period later everyone asks Redis.
    now += 499;
    expect(cache.lookup("FCFS", "1", "u2")).toEqual({ code: "SOLD_OUT" });
    now += 1;
    expect(cache.lookup("FCFS", "1", "u2")).toBeNull();
    expect(cache.lookup("FCFS", "1", "u3")).toBeNull();
  });

  it("stops answering sold out once Redis admits someone to the policy, but keeps its holders", () => {
    let now = 1000;
    const cache = new RefusalCache(500, 10, () => now);
    soldOut(cache, "1", { h1: "1-a" });
    now += 500;
    expect(cache.lookup("FCFS", "1", "u1")).toBeNull();
    cache.noteAsking("FCFS", "1"); // the renewal, admitted: stock came back unannounced
    cache.noteAdmitted("1");
    expect(cache.lookup("FCFS", "1", "u2")).toBeNull();
    expect(cache.lookup("FCFS", "1", "u3")).toBeNull();
    expect(cache.lookup("FCFS", "1", "h1")).toEqual({ code: "ALREADY_ISSUED", firstRequestId: "1-a" });
    // Even within the period: an admission means it is not sold out.
    soldOut(cache, "1");
    expect(cache.lookup("FCFS", "1", "u2")).toEqual({ code: "SOLD_OUT" });
    cache.noteAdmitted("1");
    expect(cache.lookup("FCFS", "1", "u2")).toBeNull();
    cache.noteAsking("FCFS", "1"); // nothing to renew: not sold out
    expect(cache.lookup("FCFS", "1", "u2")).toBeNull();
  });

  it("answers holders ALREADY_ISSUED with their first request, before sold out", () => {
    const cache = new RefusalCache(500, 10);
    soldOut(cache, "1");
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
    soldOut(cache, "1");
    cache.noteHolder("FCFS", "1", "u1", "1-first");
    expect(cache.lookup("FCFS", "1", "u1")).toBe(cache.lookup("FCFS", "1", "u1"));
    expect(cache.lookup("FCFS", "1", "u2")).toBe(cache.lookup("FCFS", "1", "u3"));
  });

  it("forgets what was noted for one way once Redis answers the other way", () => {
    const cache = new RefusalCache(500, 10);
    cache.noteHolder("CODE", "1", "u1", "1-first");
    soldOut(cache, "1", {}, "CODE");
    expect(cache.lookup("FCFS", "1", "u1")).toBeNull();
    soldOut(cache, "1");
    expect(cache.lookup("CODE", "1", "u1")).toBeNull();
    expect(cache.lookup("FCFS", "1", "u1")).toEqual({ code: "SOLD_OUT" });
  });

  it("answers sold out from memory only once every holder is known, and holders 409 from the snapshot", () => {
    const cache = new RefusalCache(500, 10);
    const load = cache.noteSoldOut("FCFS", "1");
    expect(load).not.toBeNull();
    expect(cache.noteSoldOut("FCFS", "1")).toBeNull(); // one snapshot at a time
    expect(cache.lookup("FCFS", "1", "stranger")).toBeNull(); // loading: ask Redis
    cache.completeHolderLoad(load!, new Map([["h1", "1-a"], ["h2", ""]]));
    expect(cache.lookup("FCFS", "1", "stranger")).toEqual({ code: "SOLD_OUT" });
    expect(cache.lookup("FCFS", "1", "h1")).toEqual({ code: "ALREADY_ISSUED", firstRequestId: "1-a" });
    expect(cache.lookup("FCFS", "1", "h2")).toEqual({ code: "ALREADY_ISSUED", firstRequestId: "" });
  });

  it("asks for a snapshot again when one has been loading for too long", () => {
    let now = 1000;
    const cache = new RefusalCache(60_000, 10, () => now);
    const hung = cache.noteSoldOut("FCFS", "1");
    expect(hung).not.toBeNull();
    now += HOLDER_LOAD_TIMEOUT_MS - 1;
    expect(cache.noteSoldOut("FCFS", "1")).toBeNull();
    now += 1;
    const again = cache.noteSoldOut("FCFS", "1");
    expect(again).not.toBeNull();
    cache.completeHolderLoad(again!, new Map([["h", "1-h"]]));
    expect(cache.lookup("FCFS", "1", "stranger")).toEqual({ code: "SOLD_OUT" });
  });

  it("never answers sold out from memory for a policy with too many users to hold", () => {
    const cache = new RefusalCache(500, 10);
    cache.completeHolderLoad(cache.noteSoldOut("FCFS", "1")!, null);
    cache.noteHolder("FCFS", "1", "seen", "1-s");
    expect(cache.lookup("FCFS", "1", "stranger")).toBeNull();
    expect(cache.lookup("FCFS", "1", "seen")).toEqual({ code: "ALREADY_ISSUED", firstRequestId: "1-s" });
    expect(cache.noteSoldOut("FCFS", "1")).toBeNull(); // not read again until the policy changes
  });

  it("drops a snapshot read across a change of the policy, and retries one that failed", () => {
    const cache = new RefusalCache(500, 10);
    const stale = cache.noteSoldOut("FCFS", "1")!;
    cache.invalidate("1");
    const fresh = cache.noteSoldOut("FCFS", "1")!;
    cache.completeHolderLoad(stale, new Map([["old", "1-o"]]));
    expect(cache.lookup("FCFS", "1", "old")).toBeNull();
    expect(cache.lookup("FCFS", "1", "stranger")).toBeNull();
    cache.failHolderLoad(fresh);
    const again = cache.noteSoldOut("FCFS", "1");
    expect(again).not.toBeNull();
    cache.completeHolderLoad(again!, new Map());
    expect(cache.lookup("FCFS", "1", "stranger")).toEqual({ code: "SOLD_OUT" });
  });

  it("is off with a zero time", () => {
    const cache = new RefusalCache(0, 3);
    cache.noteSoldOut("FCFS", "1");
    cache.noteHolder("FCFS", "1", "a", "r");
    expect(cache.lookup("FCFS", "1", "a")).toBeNull();
  });
});
