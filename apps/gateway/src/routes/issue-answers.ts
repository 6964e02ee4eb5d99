// What every answer of the issue endpoints shares, whichever door it leaves by (the Fastify
// routes, or the known-refusal door in front of them): how it is counted, and the bytes of a
// refusal.
import { ERRORS } from "@coupon/domain";
import type { GatewayMetrics } from "@coupon/telemetry";
import { problem } from "../problem.js";
import { CONSTANT_REFUSALS, type IssueRefused } from "../services/issue-service.js";

export type IssueWay = "FCFS" | "CODE";

type Child = ReturnType<GatewayMetrics["issueRequests"]["labels"]>;
type Timer = ReturnType<GatewayMetrics["admissionSeconds"]["labels"]>;
type ErrorChild = ReturnType<GatewayMetrics["admissionErrors"]["labels"]>;

/** Counts the answers of the issue endpoints: one per answer, by way and outcome. */
export class IssueMeter {
  // Children bound once (hot metrics: an answer costs an addition, not a label hash).
  private readonly timers: Record<IssueWay, Timer>;
  private readonly errors: Record<IssueWay, ErrorChild>;
  // By way, then outcome: no key string built per request.
  private readonly outcomes = { FCFS: new Map<string, Child>(), CODE: new Map<string, Child>() };

  constructor(private readonly metrics: GatewayMetrics) {
    this.timers = { FCFS: metrics.admissionSeconds.labels("FCFS"), CODE: metrics.admissionSeconds.labels("CODE") };
    this.errors = { FCFS: metrics.admissionErrors.labels("FCFS"), CODE: metrics.admissionErrors.labels("CODE") };
  }

  count(way: IssueWay, outcome: string): void {
    let child = this.outcomes[way].get(outcome);
    if (!child) {
      child = this.metrics.issueRequests.labels(way, outcome);
      this.outcomes[way].set(outcome, child);
    }
    child.inc();
  }

  /**
   * An answer decided: its time since `startedAt` (a performance.now(), so no closure and no
   * hrtime pair per request) and its outcome.
   */
  settled(way: IssueWay, startedAt: number, outcome: string): void {
    this.timers[way].observe((performance.now() - startedAt) / 1000);
    this.count(way, outcome);
  }

  /** A store or script failed: timed, counted as an admission error; its answer is counted when sent. */
  failed(way: IssueWay, startedAt: number, isAdmissionError: boolean): void {
    if (isAdmissionError) this.errors[way].inc();
    this.timers[way].observe((performance.now() - startedAt) / 1000);
  }
}

// The JSON of each constant refusal, made once: a sold-out stampede answers it millions of times.
const CONSTANT_BODIES = new Map<IssueRefused, string>(
  [...CONSTANT_REFUSALS.values()].map((r) => [r, JSON.stringify(problem(r.code, r.detail, r.extra))]),
);

/** The made-once JSON of a constant refusal, or undefined for one that carries the request's own facts. */
export function constantRefusalBody(outcome: IssueRefused): string | undefined {
  return CONSTANT_BODIES.get(outcome);
}

/** A refusal as it goes on the wire: made once per refusal object (see wireRefusal). */
export interface WireRefusal {
  readonly status: number;
  readonly body: string;
  /** the body's length in bytes */
  readonly length: number;
}

// Per refusal object: the constant ones, and a holder's (the same object each time it presses,
// see IssueService.knownRefusal). Kept as long as the object lives.
const WIRES = new WeakMap<IssueRefused, WireRefusal>();

/** The status and problem+json body of a refusal, serialized once per refusal object. */
export function wireRefusal(outcome: IssueRefused): WireRefusal {
  let wire = WIRES.get(outcome);
  if (wire === undefined) {
    const body = CONSTANT_BODIES.get(outcome) ?? JSON.stringify(problem(outcome.code, outcome.detail, outcome.extra));
    wire = Object.freeze({ status: ERRORS[outcome.code].status, body, length: Buffer.byteLength(body) });
    WIRES.set(outcome, wire);
  }
  return wire;
}
