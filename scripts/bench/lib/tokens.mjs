// HS256 JWTs as the gateway expects them (`sub` = decimal user id, admins add role "admin"),
// written to one file per wrk thread: thread t gets every token whose index i has
// i % threads === t, so the threads send disjoint sets of users in the file's order.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createSigner } from "fast-jwt";

const HOUR_MS = 3_600_000;

export function tokenSigner(secret) {
  const sign = createSigner({ key: secret, algorithm: "HS256", expiresIn: 2 * HOUR_MS });
  return {
    user: (userId) => sign({ sub: String(userId) }),
    admin: (userId = 1) => sign({ sub: String(userId), role: "admin" }),
  };
}

/** `count` consecutive user ids from `first`, as decimal strings of equal length. */
export function userRange(first, count) {
  const ids = new Array(count);
  for (let i = 0; i < count; i++) ids[i] = String(first + i);
  return ids;
}

/** Deals ids to threads: thread t gets every id whose index i has i % threads === t. */
export function splitByThread(userIds, threads) {
  const perThread = Array.from({ length: threads }, () => []);
  userIds.forEach((id, i) => perThread[i % threads].push(id));
  return perThread;
}

/**
 * Signs a token for each user id of each thread's list (in order) and writes one file per
 * thread. Returns the path prefix the wrk script reads (`<prefix>.<thread>`).
 */
export async function writeThreadTokenFiles(sandbox, name, perThreadUserIds) {
  const signer = tokenSigner(sandbox.env.JWT_SECRET);
  const cache = new Map();
  const tokenOf = (id) => {
    let t = cache.get(id);
    if (!t) cache.set(id, (t = signer.user(id)));
    return t;
  };
  const prefix = join(sandbox.dir, `${name}.tokens`);
  await Promise.all(
    perThreadUserIds.map((ids, t) => writeFile(`${prefix}.${t}`, ids.map(tokenOf).join("\n") + "\n")),
  );
  return prefix;
}

/** The users dealt to `threads` disjoint files (see splitByThread). */
export async function writeTokenFiles(sandbox, name, userIds, threads) {
  return writeThreadTokenFiles(sandbox, name, splitByThread(userIds, threads));
}
