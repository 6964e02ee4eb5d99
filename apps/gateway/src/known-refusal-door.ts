// Once a policy has sold out, nearly all of the crowd presses a button whose answer this gateway
// already holds in memory: 410 SOLD_OUT, or 409 ALREADY_ISSUED to a holder. Fastify's request
// cycle (routing, the request and reply objects, the hooks) costs more than finding that answer,
// so the HTTP server hands such a request to this door before Fastify sees it.
//
// The door answers only what it can answer completely from memory, exactly as the FCFS route
// would: a bodiless POST /policies/<id>/issue whose Authorization header was already verified,
// for a refusal the refusal memory holds. Everything else (a token seen for the first time, a
// body, a query string, an unknown policy, a gateway shedding load or closing) goes to Fastify,
// which answers it, and caches what the door needs for the next press.
import type { IncomingMessage, ServerResponse } from "node:http";
import { isId } from "@coupon/domain";
import type { FrontDoor } from "./http-server.js";
import type { Identity } from "./plugins/auth.js";
import { PROBLEM_CONTENT_TYPE } from "./problem.js";
import { wireRefusal, type IssueMeter } from "./routes/issue-answers.js";
import type { IssueRefused } from "./services/issue-service.js";

export interface KnownRefusalDoorDeps {
  /** the identity of an Authorization header verified before, else null */
  rememberedIdentity: (header: string | undefined) => Identity | null;
  /** the FCFS refusal the refusal memory holds for this user, else null */
  knownRefusal: (policyId: string, userId: string) => IssueRefused | null;
  /** the same request ids Fastify gives (its genReqId) */
  requestId: (req: IncomingMessage) => string;
  meter: IssueMeter;
  /** false while the gateway sheds load: Fastify answers those (503) */
  isOpen: () => boolean;
}

export interface KnownRefusalDoor extends FrontDoor {
  /** answers given so far (for tests and debugging; the answers are counted in the metrics too) */
  readonly answered: number;
}

const PREFIX = "/policies/";
const SUFFIX = "/issue";

export function knownRefusalDoor(deps: KnownRefusalDoorDeps): KnownRefusalDoor {
  let answered = 0;
  const door = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url;
    if (req.method !== "POST" || url === undefined || !url.startsWith(PREFIX) || !url.endsWith(SUFFIX)) return false;
    const startedAt = performance.now();
    const headers = req.headers;
    // A body would have to be read (and Fastify would parse or refuse it): not a press the door knows.
    if ((headers["content-length"] !== undefined && headers["content-length"] !== "0") || headers["transfer-encoding"] !== undefined) return false;
    const policyId = url.slice(PREFIX.length, url.length - SUFFIX.length);
    if (!isId(policyId) || !deps.isOpen()) return false;
    const identity = deps.rememberedIdentity(headers.authorization);
    if (identity === null) return false;
    const known = deps.knownRefusal(policyId, identity.userId);
    if (known === null) return false;

    deps.meter.settled("FCFS", startedAt, known.code);
    const wire = wireRefusal(known);
    // Literal keys (x-request-id is REQUEST_ID_HEADER), so the literal has one fixed shape.
    res.writeHead(wire.status, {
      "content-type": PROBLEM_CONTENT_TYPE,
      "content-length": wire.length,
      "x-request-id": deps.requestId(req),
    });
    res.end(wire.body);
    answered++;
    return true;
  };
  return Object.defineProperty(door, "answered", { get: () => answered }) as KnownRefusalDoor;
}
