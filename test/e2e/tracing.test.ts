// One request followed from the gateway's log line to the worker's by its requestId, through
// real processes: the gateway logs each admission (with the HTTP request id, the caller's
// X-Request-Id when sane), the worker each persisted or failed admission (with its job id).
// Refusals log nothing at info.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, startHarness, type Harness } from "../support/harness.js";
import { startGateway, startWorker, type Proc } from "../support/processes.js";
import { bearer, userToken } from "../support/tokens.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
let gateway: Proc & { url: string };
let worker: Proc;

beforeAll(async () => {
  h = await startHarness();
  const env = { ...h.env, LOG_LEVEL: "info", RECOVERY_EVERY_MS: "60000" };
  [gateway, worker] = await Promise.all([startGateway(env), startWorker(env)]);
});
afterAll(async () => {
  await Promise.all([gateway?.kill("SIGTERM"), worker?.kill("SIGTERM")]);
  await h?.close();
});

async function press(policyId: string, userId: string, xRequestId?: string) {
  const res = await fetch(`${gateway.url}/policies/${policyId}/issue`, {
    method: "POST",
    headers: { ...bearer(userToken(userId)), ...(xRequestId ? { "x-request-id": xRequestId } : {}) },
  });
  const body = (await res.json()) as { requestId?: string };
  return { status: res.status, requestId: body.requestId, echoed: res.headers.get("x-request-id") };
}

const lineOf = (p: Proc, requestId: string, msg: string) =>
  p.logLines().find((l) => l.requestId === requestId && l.msg === msg);

describe("tracing a request by its id", () => {
  it("finds the gateway's admission line and the worker's persisted line by one requestId", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 5 });
    const traceId = `trace-${Date.now()}`;
    const shot = await press(policy.id, "810001", traceId);
    expect(shot.status).toBe(202);
    expect(shot.echoed).toBe(traceId);
    const requestId = shot.requestId as string;

    const admitted = await waitFor("the gateway's line", async () => lineOf(gateway, requestId, "admitted"));
    expect(admitted).toMatchObject({ level: 30, service: "gateway", reqId: traceId, requestId, way: "FCFS" });
    const persisted = await waitFor("the worker's line", async () => lineOf(worker, requestId, "admission persisted"));
    expect(persisted).toMatchObject({ level: 30, service: "worker", requestId, status: "ISSUED" });
    expect(typeof persisted.jobId).toBe("string");
    const row = await h.prisma.issueRequest.findUniqueOrThrow({ where: { id: requestId } });
    expect(row.status).toBe("ISSUED");

    // The same user again: a 409 that logs nothing, under its own request id or any other.
    const again = await press(policy.id, "810001", `${traceId}-again`);
    expect(again.status).toBe(409);
    await new Promise((r) => setTimeout(r, 300));
    expect(gateway.logLines().some((l) => l.reqId === `${traceId}-again`)).toBe(false);
  });

  it("uses its own request id when the caller sends none or an insane one", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 5 });
    const plain = await press(policy.id, "810002");
    const insane = await press(policy.id, "810003", "a b<script>");
    const long = await press(policy.id, "810004", "x".repeat(200));
    for (const s of [plain, insane, long]) {
      expect(s.status).toBe(202);
      expect(s.echoed).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
      const line = await waitFor("the gateway's line", async () => lineOf(gateway, s.requestId as string, "admitted"));
      expect(line.reqId).toBe(s.echoed);
    }
    expect(new Set([plain.echoed, insane.echoed, long.echoed]).size).toBe(3);
  });

  it("finds the worker's failure line for an admission PostgreSQL refuses", async () => {
    const policy = await createPolicy(h.app, { totalQuantity: 3 });
    // PostgreSQL full while Redis still has stock: the admission passes, the worker records SOLD_OUT.
    await h.prisma.$executeRaw`UPDATE coupon_policies SET issued_count = total_quantity WHERE id = ${BigInt(policy.id)}`;
    const shot = await press(policy.id, "810005", "trace-failed-1");
    expect(shot.status).toBe(202);
    const requestId = shot.requestId as string;
    expect(await waitFor("the gateway's line", async () => lineOf(gateway, requestId, "admitted"))).toMatchObject({ reqId: "trace-failed-1" });
    const failed = await waitFor("the worker's line", async () => lineOf(worker, requestId, "admission failed"));
    expect(failed).toMatchObject({ level: 40, service: "worker", requestId, status: "FAILED", reason: "SOLD_OUT" });
    expect(typeof failed.jobId).toBe("string");
    expect(lineOf(worker, requestId, "admission persisted")).toBeUndefined();
    expect((await h.prisma.issueRequest.findUniqueOrThrow({ where: { id: requestId } })).status).toBe("FAILED");
  });
});
