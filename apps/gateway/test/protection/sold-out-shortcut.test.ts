// The sold-out shortcut, counted on a Redis server of this test's own (INFO commandstats): once
// Redis has said SOLD_OUT and the gateway has read the policy's holders, it answers 410 to
// everyone else and 409 to every holder (seen by this gateway or not) without sending Redis
// anything, rate limits included; as soon as stock comes back (a released admission publishes policy-changed) it asks
// Redis again, long before SOLD_OUT_CACHE_MS. With the shortcut off, every request goes to Redis.
import { admitRequest, releaseAdmission } from "@coupon/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../../../../test/support/harness.js";
import { commandCalls, startOwnRedis, type OwnRedis } from "../../../../test/support/redis-server.js";
import { bearer, userToken } from "../../../../test/support/tokens.js";
import { waitFor } from "../../../../test/support/wait.js";

let redis: OwnRedis;
let h: Harness;
beforeAll(async () => {
  redis = await startOwnRedis();
  // Rate limits on at their defaults (per address too): the shortcut must answer before them.
  h = await startHarness({ REDIS_URL: redis.url, SOLD_OUT_CACHE_MS: "60000", RATE_LIMIT_IP_PER_SEC: "100" });
});
afterAll(async () => {
  await h?.close();
  await redis?.stop();
});

const press = (app: Harness["app"], policyId: string, userId: number) =>
  app.inject({ method: "POST", url: `/policies/${policyId}/issue`, headers: bearer(userToken(userId)) });

/** every command Redis ran since it started, but the INFO calls that read them */
async function snapshot(): Promise<{ scripts: number; all: number }> {
  const calls = await commandCalls(redis.direct);
  const of = (name: string) => calls.get(name) ?? 0;
  let all = 0;
  for (const [name, n] of calls) if (name !== "info") all += n;
  return { scripts: of("evalsha") + of("eval"), all };
}

describe("a sold-out policy", () => {
  it("is answered 410, and 409 to a holder this gateway never saw, without any Redis command, and from Redis again as soon as stock comes back", async () => {
    const p = await createPolicy(h.app, { totalQuantity: 1 });
    // The one unit is admitted but never enqueued, so it can be given back below.
    const requestId = `${p.id}-${"b".repeat(24)}`;
    expect((await admitRequest(h.redis, h.keys, { policyId: p.id, userId: "801", requestId, way: "FCFS", clientIp: "" })).ok).toBe(true);

    const fromRedis = await press(h.app, p.id, 802);
    expect(fromRedis.statusCode).toBe(410);
    expect(fromRedis.json().code).toBe("SOLD_OUT");

    // The holders are read once, in the background: wait until a press costs Redis nothing.
    await waitFor(
      "the holder snapshot",
      async () => {
        const b = await snapshot();
        await press(h.app, p.id, 850);
        return (await snapshot()).all === b.all;
      },
      5000,
      20,
    );
    const before = await snapshot();
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => press(h.app, p.id, 900 + (i % 50))));
    expect(answers.every((a) => a.statusCode === 410 && a.json().code === "SOLD_OUT")).toBe(true);
    // User 801 was admitted straight in Redis: this gateway never answered them, yet knows them.
    const holder = await Promise.all(Array.from({ length: 5 }, () => press(h.app, p.id, 801)));
    for (const a of holder) {
      expect(a.statusCode).toBe(409);
      expect(a.json()).toMatchObject({ code: "ALREADY_ISSUED", requestId });
    }
    const after = await snapshot();
    expect(after.scripts).toBe(before.scripts);
    expect(after.all).toBe(before.all);

    // A failed admission gives its unit back and says so: the next press goes to Redis and wins.
    expect(await releaseAdmission(h.redis, h.keys, { policyId: p.id, requestId, userId: "801" }, true)).toBe(true);
    const started = Date.now();
    await waitFor("the gateway to hear stock came back", async () => (await press(h.app, p.id, 803)).statusCode === 202, 5000, 20);
    expect(Date.now() - started).toBeLessThan(5000); // far below the 60 s memory
    const back = await snapshot();
    expect(back.scripts).toBeGreaterThan(after.scripts);
    expect((await press(h.app, p.id, 804)).json().code).toBe("SOLD_OUT");
  });

  it("renews sold out with one request per period while a crowd keeps pressing", async () => {
    // Long enough that a renewal comes back within it even on a busy machine.
    const periodMs = 500;
    const short = await startHarness({ REDIS_URL: redis.url, SOLD_OUT_CACHE_MS: String(periodMs), RATE_LIMIT_USER_PER_SEC: "0" });
    try {
      // Over HTTP: requests and Redis' answers take turns on the event loop as they do in service
      // (a loop of inject() calls would starve the socket that brings the renewal back).
      const base = await short.app.listen({ port: 0, host: "127.0.0.1" });
      const p = await createPolicy(short.app, { totalQuantity: 1 });
      const requestId = `${p.id}-${"d".repeat(24)}`;
      expect((await admitRequest(short.redis, short.keys, { policyId: p.id, userId: "1", requestId, way: "FCFS", clientIp: "" })).ok).toBe(true);
      const users = Array.from({ length: 20 }, (_, i) => bearer(userToken(3000 + i)));
      const pressOver = async (headers: { authorization: string }) => {
        const res = await fetch(`${base}/policies/${p.id}/issue`, { method: "POST", headers });
        await res.arrayBuffer();
        return res.status;
      };
      await waitFor(
        "the holder snapshot",
        async () => {
          const b = await snapshot();
          await pressOver(users[0] as { authorization: string });
          return (await snapshot()).scripts === b.scripts;
        },
        5000,
        20,
      );

      // 20 users press in a loop for 2.5 s: several periods run out while requests are in flight.
      const before = await snapshot();
      const started = performance.now();
      const statuses = new Map<number, number>();
      await Promise.all(
        users.map(async (headers) => {
          while (performance.now() - started < 2500) {
            const status = await pressOver(headers);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
          }
        }),
      );
      const periods = Math.ceil((performance.now() - started) / periodMs) + 1;
      const scripts = (await snapshot()).scripts - before.scripts;
      expect([...statuses.keys()]).toEqual([410]);
      expect(statuses.get(410)).toBeGreaterThan(200);
      // Two scripts per renewal: the address limit's and the admission's (the per-user limit is
      // off here). Without the single renewal, every request in flight when a period runs out
      // would go to Redis.
      expect(scripts).toBeGreaterThanOrEqual(2);
      expect(scripts).toBeLessThanOrEqual(2 * periods);
    } finally {
      await short.close();
    }
  });

  it("goes to Redis for every request with SOLD_OUT_CACHE_MS=0", async () => {
    const off = await startHarness({ REDIS_URL: redis.url, SOLD_OUT_CACHE_MS: "0" });
    try {
      const p = await createPolicy(off.app, { totalQuantity: 1 });
      // Admitted directly, so no enqueue (BullMQ's own scripts) runs during the count.
      const requestId = `${p.id}-${"c".repeat(24)}`;
      expect((await admitRequest(off.redis, off.keys, { policyId: p.id, userId: "1", requestId, way: "FCFS", clientIp: "" })).ok).toBe(true);
      expect((await press(off.app, p.id, 2)).statusCode).toBe(410);
      const before = await snapshot();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => press(off.app, p.id, 100 + i)));
      expect(answers.every((a) => a.statusCode === 410)).toBe(true);
      // One admission script per request, plus one per-user rate limit script each.
      const after = await snapshot();
      expect(after.scripts - before.scripts).toBe(40);
    } finally {
      await off.close();
    }
  });
});
