// The few gateway calls a benchmark makes outside wrk: create a policy (admin API) and press
// the button for a list of users (to exhaust a policy's stock before the sold-out benchmark).
import { Pool } from "undici";
import { tokenSigner } from "./tokens.mjs";

/** POST /admin/policies with a FCFS (or DIRECT) body like test/support/harness.ts policyBody. Returns the policy id. */
export async function createPolicy(gateway, sandbox, { totalQuantity, name = `Bench ${sandbox.bench}`, issueType = "FCFS" }) {
  const now = Date.now();
  const body = {
    name,
    issueType,
    perUserLimit: 1,
    totalQuantity,
    validDays: 30,
    issueStartAt: new Date(now - 60_000).toISOString(),
    issueEndAt: new Date(now + 6 * 3_600_000).toISOString(),
    discount: { type: "FIXED", value: 1000 },
  };
  const res = await fetch(`${gateway.url}/admin/policies`, {
    method: "POST",
    headers: { authorization: `Bearer ${tokenSigner(sandbox.env.JWT_SECRET).admin()}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`create policy: ${res.status} ${text}`);
  return JSON.parse(text).id;
}

/** Each user presses once (`connections` at a time); returns the statuses in the users' order. */
export async function pressOnce(gateway, sandbox, policyId, userIds, connections = 32) {
  const signer = tokenSigner(sandbox.env.JWT_SECRET);
  const pool = new Pool(gateway.url, { connections });
  const statuses = new Array(userIds.length);
  let next = 0;
  const lane = async () => {
    while (next < userIds.length) {
      const i = next++;
      const res = await pool.request({
        method: "POST",
        path: `/policies/${policyId}/issue`,
        headers: { authorization: `Bearer ${signer.user(userIds[i])}` },
      });
      await res.body.dump();
      statuses[i] = res.statusCode;
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, lane));
  } finally {
    await pool.close();
  }
  return statuses;
}
