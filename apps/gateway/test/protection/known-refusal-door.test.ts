// The known-refusal door, over real HTTP (inject() goes past the HTTP server, so past the door):
// once a policy is sold out and its holders are known, a press with a token verified before is
// answered before routing, with what the FCFS route itself answers (status, problem body,
// content type, request id, metrics); everything the door cannot answer from memory alone goes
// to Fastify, which answers it as before.
import { releaseAdmission } from "@coupon/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../../../../test/support/harness.js";
import { bearer, userToken } from "../../../../test/support/tokens.js";
import { waitFor } from "../../../../test/support/wait.js";

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function post(base: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method: "POST", headers: init.headers, body: init.body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

// One token per user, signed once: the door knows a token by its exact text, and a token signed
// a second later (another iat) is another text.
const tokens = new Map<number, { authorization: string }>();
function as(userId: number): { authorization: string } {
  let t = tokens.get(userId);
  if (t === undefined) {
    t = bearer(userToken(userId));
    tokens.set(userId, t);
  }
  return t;
}

const answered = (h: Harness) => h.app.knownRefusalDoor?.answered ?? 0;

/** A policy of one coupon, sold out to `holder`, whose sold-out answers the door gives. */
async function soldOutToOne(h: Harness, base: string, holder: number, other: number): Promise<{ id: string; requestId: string }> {
  const p = await createPolicy(h.app, { totalQuantity: 1 });
  const path = `/policies/${p.id}/issue`;
  const won = await post(base, path, { headers: as(holder) });
  expect(won.status).toBe(202);
  const { requestId } = JSON.parse(won.text) as { requestId: string };
  // Redis says SOLD_OUT first; the holders are read in the background, then the door answers.
  await waitFor(
    "the door to answer the sold-out policy",
    async () => {
      const before = answered(h);
      const a = await post(base, path, { headers: as(other) });
      return a.status === 410 && answered(h) === before + 1;
    },
    5000,
    20,
  );
  return { id: p.id, requestId };
}

async function issueRequests(h: Harness, outcome: string): Promise<number> {
  const text = (await h.app.inject({ url: "/metrics" })).body;
  const line = text.split("\n").find((l) => l.startsWith("coupon_issue_requests_total{") && l.includes(`outcome="${outcome}"`) && l.includes('way="FCFS"'));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

describe("the known-refusal door", () => {
  let h: Harness;
  let base: string;
  beforeAll(async () => {
    h = await startHarness({ SOLD_OUT_CACHE_MS: "60000" });
    base = await h.app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("answers a sold-out policy's crowd before routing, as the route would, and counts every answer", async () => {
    const p = await soldOutToOne(h, base, 801, 802);
    const path = `/policies/${p.id}/issue`;
    const soldOutBefore = await issueRequests(h, "SOLD_OUT");
    const heldBefore = await issueRequests(h, "ALREADY_ISSUED");
    const doorBefore = answered(h);

    // User 803's first press: the token is new, so Fastify answers (from the refusal memory).
    const viaRoute = await post(base, path, { headers: as(803) });
    expect(answered(h)).toBe(doorBefore);
    const viaDoor = await Promise.all(Array.from({ length: 50 }, () => post(base, path, { headers: as(803) })));
    expect(answered(h)).toBe(doorBefore + 50);
    for (const a of [viaRoute, ...viaDoor]) {
      expect(a.status).toBe(410);
      expect(a.headers.get("content-type")).toBe("application/problem+json; charset=utf-8");
      expect(a.text).toBe(viaRoute.text);
      expect(JSON.parse(a.text)).toMatchObject({ status: 410, code: "SOLD_OUT", type: "/problems/sold-out" });
    }
    const names = (a: Answer) => [...a.headers.keys()].filter((k) => k !== "date").sort();
    expect(names(viaDoor[0] as Answer)).toEqual(names(viaRoute));
    // Request ids as Fastify makes them: ours are unique, a caller's own is echoed.
    const ids = new Set([viaRoute, ...viaDoor].map((a) => a.headers.get("x-request-id")));
    expect(ids.size).toBe(51);
    const traced = await post(base, path, { headers: { ...as(803), "x-request-id": "trace-0123" } });
    expect(traced.headers.get("x-request-id")).toBe("trace-0123");

    // The holder is answered 409 with their first requestId, the same answer inject() gets from the route.
    const holder = await post(base, path, { headers: as(801) });
    const fromRoute = await h.app.inject({ method: "POST", url: path, headers: as(801) });
    expect(holder.status).toBe(409);
    expect(JSON.parse(holder.text)).toEqual(fromRoute.json());
    expect(JSON.parse(holder.text)).toMatchObject({ code: "ALREADY_ISSUED", requestId: p.requestId });
    expect(answered(h)).toBe(doorBefore + 52);

    expect(await issueRequests(h, "SOLD_OUT")).toBe(soldOutBefore + 52);
    expect(await issueRequests(h, "ALREADY_ISSUED")).toBe(heldBefore + 2);
  });

  it("leaves to Fastify what it cannot answer from memory alone, and Fastify answers it as before", async () => {
    const p = await soldOutToOne(h, base, 811, 812);
    const path = `/policies/${p.id}/issue`;
    const known = as(812);
    const cases: [string, () => Promise<Answer>, number][] = [
      ["a body", () => post(base, path, { headers: { ...known, "content-type": "application/json" }, body: "{}" }), 410],
      ["a body of a type Fastify does not read", () => post(base, path, { headers: { ...known, "content-type": "application/xml" }, body: "<x/>" }), 415],
      ["a query string", () => post(base, `${path}?x=1`, { headers: known }), 410],
      ["a token never verified here", () => post(base, path, { headers: as(813) }), 410],
      ["a token that does not verify", () => post(base, path, { headers: bearer(`${userToken(812)}x`) }), 401],
      ["no token", () => post(base, path), 401],
      ["an id that is not one", () => post(base, "/policies/0/issue", { headers: known }), 400],
      ["an encoded id", () => post(base, `/policies/%3${p.id.slice(0, 1)}${p.id.slice(1)}/issue`, { headers: known }), 410],
      ["a trailing slash", () => post(base, `${path}/`, { headers: known }), 404],
    ];
    for (const [what, send, status] of cases) {
      const before = answered(h);
      const a = await send();
      expect({ what, status: a.status }).toEqual({ what, status });
      expect(a.headers.get("content-type"), what).toMatch(/^application\/problem\+json/);
      expect({ what, door: answered(h) - before }).toEqual({ what, door: 0 });
    }
    // A GET is not a press.
    const before = answered(h);
    expect((await fetch(`${base}${path}`, { headers: known })).status).toBe(404);
    expect(answered(h)).toBe(before);
  });

  it("stops answering as soon as stock comes back, and never for a policy with stock", async () => {
    const p = await soldOutToOne(h, base, 821, 822);
    const path = `/policies/${p.id}/issue`;
    // The holder's admission fails and gives its unit back: the next press goes to Redis and wins.
    expect(await releaseAdmission(h.redis, h.keys, { policyId: p.id, requestId: p.requestId, userId: "821" }, true)).toBe(true);
    await waitFor("the gateway to hear stock came back", async () => (await post(base, path, { headers: as(822) })).status === 202, 5000, 20);

    const open = await createPolicy(h.app, { totalQuantity: 5 });
    const before = answered(h);
    const a = await post(base, `/policies/${open.id}/issue`, { headers: as(822) });
    expect(a.status).toBe(202);
    const again = await post(base, `/policies/${open.id}/issue`, { headers: as(822) });
    expect(again.status).toBe(409);
    // A holder of a policy that is not sold out: the memory knows them, so the door answers.
    const third = await post(base, `/policies/${open.id}/issue`, { headers: as(822) });
    expect(third.status).toBe(409);
    expect(answered(h)).toBe(before + 1);
  });
});

describe("the known-refusal door while the gateway sheds load", () => {
  let h: Harness;
  let base: string;
  beforeAll(async () => {
    h = await startHarness({ SOLD_OUT_CACHE_MS: "60000", SHED_EVENT_LOOP_DELAY_MS: "50" });
    base = await h.app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("steps aside, so the crowd hears 503 like every other crowd route, and answers again once the loop is calm", async () => {
    const p = await soldOutToOne(h, base, 831, 832);
    const path = `/policies/${p.id}/issue`;
    const press = () => post(base, path, { headers: as(832) });

    // Hog the loop 250 ms out of every 260 ms: every tick of the shedder comes late.
    const timer = setInterval(() => {
      const until = performance.now() + 250;
      while (performance.now() < until) {
        // busy on purpose
      }
    }, 10);
    let shed: Answer;
    const before = answered(h);
    try {
      await new Promise((r) => setTimeout(r, 300));
      shed = await press();
    } finally {
      clearInterval(timer);
    }
    expect(shed.status).toBe(503);
    expect(JSON.parse(shed.text)).toMatchObject({ code: "OVERLOADED" });
    expect(answered(h)).toBe(before);
    await waitFor("the door to answer again", async () => (await press()).status === 410 && answered(h) > before, 5000, 50);
  });
});
