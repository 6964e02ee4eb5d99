import { createSigner } from "fast-jwt";
import { JWT_SECRET } from "./env.js";

const sign = createSigner({ key: JWT_SECRET, algorithm: "HS256", expiresIn: 3_600_000 });

export function userToken(userId: string | number | bigint): string {
  return sign({ sub: String(userId) });
}

export function adminToken(userId: string | number = 1): string {
  return sign({ sub: String(userId), role: "admin" });
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
