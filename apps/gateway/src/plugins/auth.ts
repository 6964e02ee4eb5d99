// Identity from `Authorization: Bearer <JWT>` (HS256). `sub` is the user id; `role: "admin"`
// opens /admin. Verified tokens are cached, so a user pressing the button again costs no HMAC.
import { DomainError, isId } from "@coupon/domain";
import { createVerifier, TokenError } from "fast-jwt";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";

export interface Identity {
  userId: string;
  admin: boolean;
}

declare module "fastify" {
  interface FastifyRequest {
    identity: Identity | null;
  }
  interface FastifyInstance {
    /** the caller's identity, or a 401 */
    authenticate: (request: FastifyRequest) => Promise<void>;
    /** an admin's identity, or a 401/403 */
    authenticateAdmin: (request: FastifyRequest) => Promise<void>;
  }
}

export interface AuthOptions {
  secret: string;
}

interface Claims {
  sub?: unknown;
  role?: unknown;
}

async function authPlugin(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  const verify = createVerifier({
    key: opts.secret,
    algorithms: ["HS256"],
    cache: 100_000,
    cacheTTL: 600_000,
    requiredClaims: ["sub"],
  });

  const identify = (request: FastifyRequest): Identity => {
    const header = request.headers.authorization;
    if (!header) throw new DomainError("UNAUTHORIZED", "Authorization header with a Bearer token is required");
    const match = /^Bearer ([A-Za-z0-9_\-.]{10,4096})$/.exec(header);
    if (!match) throw new DomainError("UNAUTHORIZED", "Authorization must be 'Bearer <token>'");
    let claims: Claims;
    try {
      claims = verify(match[1] as string) as Claims;
    } catch (err) {
      const expired = err instanceof TokenError && err.code === TokenError.codes.expired;
      throw new DomainError("UNAUTHORIZED", expired ? "Token has expired" : "Token is not valid");
    }
    if (!isId(claims.sub)) throw new DomainError("UNAUTHORIZED", "Token subject is not a user id");
    return { userId: claims.sub, admin: claims.role === "admin" };
  };

  app.decorateRequest("identity", null);
  app.decorate("authenticate", async (request: FastifyRequest) => {
    request.identity = identify(request);
  });
  app.decorate("authenticateAdmin", async (request: FastifyRequest) => {
    const identity = identify(request);
    if (!identity.admin) throw new DomainError("FORBIDDEN", "This needs an admin token");
    request.identity = identity;
  });
}

export default fp(authPlugin, { name: "auth" });

/** The identity of an authenticated request (the route's onRequest hook put it there). */
export function identityOf(request: FastifyRequest): Identity {
  if (!request.identity) throw new DomainError("UNAUTHORIZED");
  return request.identity;
}
