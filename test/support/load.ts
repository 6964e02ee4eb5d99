// Fires many issue requests at a running gateway over a bounded number of keep-alive connections.
import { Pool } from "undici";
import { bearer, userToken } from "./tokens.js";

export interface Shot {
  userId: string;
  status: number;
  requestId?: string;
  code?: string;
}

export async function stampede(
  baseUrls: string[],
  path: string,
  userIds: string[],
  connections = 64,
): Promise<Shot[]> {
  const pools = baseUrls.map((u) => new Pool(u, { connections, pipelining: 1 }));
  try {
    const shots = await Promise.all(
      userIds.map(async (userId, i): Promise<Shot> => {
        const pool = pools[i % pools.length] as Pool;
        try {
          const res = await pool.request({ method: "POST", path, headers: bearer(userToken(userId)) });
          const body = (await res.body.json()) as { requestId?: string; code?: string };
          return { userId, status: res.statusCode, ...(body.requestId ? { requestId: body.requestId } : {}), ...(body.code ? { code: body.code } : {}) };
        } catch {
          return { userId, status: 0 };
        }
      }),
    );
    return shots;
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

export function shuffled<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}
