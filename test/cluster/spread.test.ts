// The cluster run is really a cluster run: the gateway talks to three masters, policies' keys land
// on more than one of them, each policy's keys and the queues' keys stay together on one, and the
// clean-up reaches every master.
import { scanKeys } from "@coupon/redis";
import { Cluster, type Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, deleteKeys, startHarness, type Harness } from "../support/harness.js";
import { bearer, userToken } from "../support/tokens.js";

let h: Harness;
beforeAll(async () => {
  expect(process.env.TEST_REDIS_CLUSTER_NODES, "run through vitest.cluster.config.ts").toBeTruthy();
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

function masters(): Redis[] {
  expect(h.redis).toBeInstanceOf(Cluster);
  return (h.redis as Cluster).nodes("master");
}

/** master index -> keys of this test file found there */
async function keysByMaster(pattern: string): Promise<string[][]> {
  return Promise.all(
    masters().map(async (node) => {
      const found: string[] = [];
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        cursor = next;
        found.push(...keys);
      } while (cursor !== "0");
      return found;
    }),
  );
}

describe("on a three-master Redis Cluster", () => {
  it("policies spread over several masters; one policy's keys and all queue keys stay on one", async () => {
    expect(masters()).toHaveLength(3);
    const policies = [];
    for (let i = 0; i < 12; i++) policies.push(await createPolicy(h.app, { totalQuantity: 5 }));
    // One admission per policy puts its pending and counts keys next to its meta.
    // One user per policy: twelve presses by one user would meet the per-user rate limit.
    for (const [i, p] of policies.entries()) {
      const res = await h.app.inject({ method: "POST", url: `/policies/${p.id}/issue`, headers: bearer(userToken(900_001 + i)) });
      expect(res.statusCode).toBe(202);
    }
    const byMaster = await keysByMaster(`${h.env.REDIS_PREFIX}:*`);
    const metaHolders = byMaster.filter((keys) => keys.some((k) => k.endsWith(":meta")));
    expect(metaHolders.length).toBeGreaterThan(1);
    for (const p of policies) {
      const tag = `{p:${p.id}}`;
      const holders = byMaster.filter((keys) => keys.some((k) => k.includes(tag)));
      expect(holders, `keys of policy ${p.id}`).toHaveLength(1);
      expect(holders[0]!.filter((k) => k.includes(tag)).length).toBeGreaterThanOrEqual(4);
    }
    const queueHolders = byMaster.filter((keys) => keys.some((k) => k.startsWith(`${h.env.REDIS_PREFIX}:{q}:`)));
    expect(queueHolders).toHaveLength(1);
  });

  it("scanning and deleting by pattern reaches every master", async () => {
    const before = (await keysByMaster(`${h.env.REDIS_PREFIX}:{p:*`)).filter((keys) => keys.length > 0);
    expect(before.length).toBeGreaterThan(1);
    let seen = 0;
    for await (const keys of scanKeys(h.redis, `${h.env.REDIS_PREFIX}:{p:*`)) seen += keys.length;
    expect(seen).toBe(before.flat().length);
    await deleteKeys(h.redis, `${h.env.REDIS_PREFIX}:{p:*`);
    expect((await keysByMaster(`${h.env.REDIS_PREFIX}:{p:*`)).flat()).toEqual([]);
  });
});
