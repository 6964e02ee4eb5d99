// bull-board at /admin/queues: admins only on every board URL (page, static files, API), the
// one-time ?token= login that leaves an HttpOnly cookie, and the three queues as the worker uses
// them (same names, same `<prefix>:{q}` prefix: a real worker's schedulers and finished jobs show).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOARD_COOKIE } from "../../apps/gateway/src/plugins/queue-board.js";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { startWorker, type Proc } from "../support/processes.js";
import { adminToken, bearer, userToken } from "../support/tokens.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
let worker: Proc;

beforeAll(async () => {
  h = await startHarness();
  worker = await startWorker({ ...h.env, RECOVERY_EVERY_MS: "60000" });
});
afterAll(async () => {
  await worker?.kill("SIGTERM");
  await h?.close();
});

interface BoardQueue {
  name: string;
  counts: Record<string, number>;
  readOnlyMode: boolean;
  jobSchedulerCount: number;
}

function cookieOf(setCookie: string | string[] | undefined): string {
  const line = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  return (line ?? "").split(";")[0] ?? "";
}

describe("queue board", () => {
  it("answers 401/403 problem+json on its page, static files and API without an admin token", async () => {
    const page = await h.app.inject({ method: "GET", url: "/admin/queues" });
    const html = (await h.app.inject({ method: "GET", url: "/admin/queues", headers: bearer(adminToken()) })).body;
    const asset = /(static\/[^"']+\.js)/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const urls = ["/admin/queues", "/admin/queues/", `/admin/queues/${asset}`, "/admin/queues/api/queues", "/admin/queues/queue/issue"];
    for (const url of urls) {
      const none = await h.app.inject({ method: "GET", url });
      expect(none.statusCode, url).toBe(401);
      expect(none.headers["content-type"]).toContain("application/problem+json");
      const user = await h.app.inject({ method: "GET", url, headers: bearer(userToken("42")) });
      expect(user.statusCode, url).toBe(403);
      expect(user.json().code).toBe("FORBIDDEN");
      const userCookie = await h.app.inject({ method: "GET", url, headers: { cookie: `${BOARD_COOKIE}=${userToken("42")}` } });
      expect(userCookie.statusCode, url).toBe(403);
      const forged = await h.app.inject({ method: "GET", url, headers: { cookie: `${BOARD_COOKIE}=${adminToken()}x` } });
      expect(forged.statusCode, url).toBe(401);
      const admin = await h.app.inject({ method: "GET", url, headers: bearer(adminToken()) });
      expect(admin.statusCode, url).toBe(200);
    }
    expect(page.statusCode).toBe(401);
    // A user token in the address bar sets nothing.
    const userLogin = await h.app.inject({ method: "GET", url: `/admin/queues?token=${userToken("42")}` });
    expect(userLogin.statusCode).toBe(403);
    expect(userLogin.headers["set-cookie"]).toBeUndefined();
    // Writes are refused too (the board is read-only, and needs an admin first).
    const empty = await h.app.inject({ method: "PUT", url: "/admin/queues/api/queues/issue/empty" });
    expect(empty.statusCode).toBe(401);
  });

  it("logs a browser in once with ?token= and serves the page and API on the cookie", async () => {
    const login = await h.app.inject({ method: "GET", url: `/admin/queues?token=${adminToken()}` });
    expect(login.statusCode).toBe(303);
    expect(login.headers.location).toBe("/admin/queues");
    const setCookie = String(login.headers["set-cookie"]);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/admin\/queues(;|$)/);
    const cookie = cookieOf(login.headers["set-cookie"]);

    const page = await h.app.inject({ method: "GET", url: "/admin/queues", headers: { cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.body).toContain("Coupon queues");
    const api = await h.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: { cookie } });
    expect(api.statusCode).toBe(200);
  });

  it("lists the issue, maintenance and direct-batch queues with the worker's jobs after a burst", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 5 });
    for (let u = 1; u <= 8; u++) {
      await h.app.inject({ method: "POST", url: `/policies/${policy.id}/issue`, headers: bearer(userToken(String(900_000 + u))) });
    }
    await waitFor("the burst persisted", async () => (await h.prisma.couponIssue.count({ where: { policyId: BigInt(policy.id) } })) === 5);

    // The presses may have gone out in several jobs, and the last may still be finishing: wait
    // until the board shows what the worker's own keys hold (same name, same prefix).
    const completedKey = `${h.keys.queuePrefix()}:issue:completed`;
    const queues = await waitFor("the worker's jobs on the board", async () => {
      const res = await h.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: bearer(adminToken()) });
      const list = (res.json() as { queues: BoardQueue[] }).queues;
      const completed = list.find((q) => q.name === "issue")?.counts.completed ?? 0;
      return completed >= 1 && completed === (await h.redis.zcard(completedKey)) ? list : null;
    });
    expect(queues.map((q) => q.name).sort()).toEqual(["direct-batch", "issue", "maintenance"]);
    const issue = queues.find((q) => q.name === "issue") as BoardQueue;
    expect(issue.readOnlyMode).toBe(true);
    // The worker registered its four job schedulers on the maintenance queue.
    expect(queues.find((q) => q.name === "maintenance")?.jobSchedulerCount).toBe(4);
  });
});

describe("queue board switched off", () => {
  it("mounts nothing with BULL_BOARD_ENABLED=false", async () => {
    const off = await startHarness({ BULL_BOARD_ENABLED: "false" });
    try {
      const res = await off.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: bearer(adminToken()) });
      expect(res.statusCode).toBe(404);
    } finally {
      await off.close();
    }
  });
});
