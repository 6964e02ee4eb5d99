// Identity from `Authorization: Bearer <JWT>` (HS256). `sub` is the user id; `role: "admin"`
// opens /admin. A token verified once is remembered by its exact header text until it expires, so
// a user pressing the button again costs a Map lookup, not an HMAC.
import { DomainError, isId } from "@coupon/domain";
import { createVerifier, TokenError } from "fast-jwt";
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import fp from "fastify-plugin";

export interface Identity {
  userId: string;
  admin: boolean;
}

type AuthHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

declare module "fastify" {
  interface FastifyRequest {
    identity: Identity | null;
  }
  interface FastifyInstance {
    /** onRequest hook: the caller's identity, or a 401 */
    authenticate: AuthHook;
    /** onRequest hook: an admin's identity, or a 401/403 */
    authenticateAdmin: AuthHook;
    /** the identity a token's text proves (throws UNAUTHORIZED), for a token not sent as a Bearer header */
    identifyToken: (token: string) => Identity;
    /** the identity of an Authorization header already verified and not expired, else null (no HMAC, never throws) */
    rememberedIdentity: (header: string | undefined) => Identity | null;
  }
}

export interface AuthOptions {
  secret: string;
  /** verified tokens remembered (default 200,000) */
  cacheSize?: number;
}

interface Claims {
  sub?: unknown;
  role?: unknown;
  exp?: unknown;
}

interface Verified extends Identity {
  /** epoch ms after which the token is no longer good */
  expiresAt: number;
}

const BEARER = /^Bearer ([A-Za-z0-9_\-.]{10,4096})$/;
const TOKEN = /^[A-Za-z0-9_\-.]{10,4096}$/;

async function authPlugin(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  const verify = createVerifier({ key: opts.secret, algorithms: ["HS256"], requiredClaims: ["sub"] });
  const cacheSize = opts.cacheSize ?? 200_000;
  const verified = new Map<string, Verified>();

  // Keyed by the whole header value: a press seen before costs one lookup, before any parsing.
  // Only the header of a token that verified is ever stored.
  const identify = (request: FastifyRequest): Identity => {
    const header = request.headers.authorization;
    if (!header) throw new DomainError("UNAUTHORIZED", "Authorization header with a Bearer token is required");
    const known = verified.get(header);
    if (known !== undefined && known.expiresAt > Date.now()) return known;
    const match = BEARER.exec(header);
    if (!match) throw new DomainError("UNAUTHORIZED", "Authorization must be 'Bearer <token>'");
    return verifyAndRemember(header, match[1] as string);
  };

  const identifyToken = (token: string): Identity => {
    const header = `Bearer ${token}`;
    const known = verified.get(header);
    if (known !== undefined && known.expiresAt > Date.now()) return known;
    return verifyAndRemember(header, token);
  };

  const verifyAndRemember = (header: string, token: string): Identity => {
    let claims: Claims;
    try {
      claims = verify(token) as Claims;
    } catch (err) {
      const expired = err instanceof TokenError && err.code === TokenError.codes.expired;
      throw new DomainError("UNAUTHORIZED", expired ? "Token has expired" : "Token is not valid");
    }
    if (!isId(claims.sub)) throw new DomainError("UNAUTHORIZED", "Token subject is not a user id");
    const identity: Verified = {
      userId: claims.sub,
      admin: claims.role === "admin",
      // A token without exp is good until the cache forgets it; fast-jwt checked nbf/exp above.
      expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : Number.MAX_SAFE_INTEGER,
    };
    if (verified.size >= cacheSize) verified.delete(verified.keys().next().value as string);
    verified.set(header, identity);
    return identity;
  };

  // Callback hooks, not async ones: no promise per request on the hottest path.
  app.decorateRequest("identity", null);
  app.decorate("identifyToken", (token: string): Identity => {
    if (!TOKEN.test(token)) throw new DomainError("UNAUTHORIZED", "Token is not valid");
    return identifyToken(token);
  });
  app.decorate("rememberedIdentity", (header: string | undefined): Identity | null => {
    if (header === undefined) return null;
    const known = verified.get(header);
    return known !== undefined && known.expiresAt > Date.now() ? known : null;
  });
  app.decorate("authenticate", ((request, _reply, done) => {
    try {
      request.identity = identify(request);
      done();
    } catch (err) {
      done(err as Error);
    }
  }) as AuthHook);
  app.decorate("authenticateAdmin", ((request, _reply, done) => {
    try {
      const identity = identify(request);
      if (!identity.admin) throw new DomainError("FORBIDDEN", "This needs an admin token");
      request.identity = identity;
      done();
    } catch (err) {
      done(err as Error);
    }
  }) as AuthHook);
}

export default fp(authPlugin, { name: "auth" });

/** The identity of an authenticated request (the route's onRequest hook put it there). */
export function identityOf(request: FastifyRequest): Identity {
  if (!request.identity) throw new DomainError("UNAUTHORIZED");
  return request.identity;
}
