// Prometheus metrics (prom-client). Base units (seconds), `coupon_` prefix, and no user or coupon
// ids in labels: their number would be unbounded.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** millisecond-scale buckets, in seconds */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function gatewayMetrics(registry: Registry) {
  return {
    issueRequests: new Counter({
      name: "coupon_issue_requests_total",
      help: "Issue requests (FCFS and CODE) by outcome",
      labelNames: ["way", "outcome"] as const,
      registers: [registry],
    }),
    admissionSeconds: new Histogram({
      name: "coupon_admission_duration_seconds",
      help: "Time from receiving an issue request to its answer (admission and enqueue)",
      labelNames: ["way"] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;

export function workerMetrics(registry: Registry) {
  return {
    persisted: new Counter({
      name: "coupon_issued_total",
      help: "Coupons persisted to PostgreSQL",
      labelNames: ["way"] as const,
      registers: [registry],
    }),
    failed: new Counter({
      name: "coupon_issue_failures_total",
      help: "Admitted requests recorded as FAILED, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    persistSeconds: new Histogram({
      name: "coupon_persistence_latency_seconds",
      help: "Time from admission in Redis to the committed coupon in PostgreSQL",
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    jobSeconds: new Histogram({
      name: "coupon_job_duration_seconds",
      help: "Duration of worker jobs",
      labelNames: ["queue", "name"] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    jobFailures: new Counter({
      name: "coupon_job_failures_total",
      help: "Worker job attempts that threw",
      labelNames: ["queue", "name"] as const,
      registers: [registry],
    }),
    schedulerRuns: new Counter({
      name: "coupon_scheduler_runs_total",
      help: "Scheduled job runs by outcome (skipped: another worker held the job's lock)",
      labelNames: ["name", "outcome"] as const,
      registers: [registry],
    }),
    // policy_id is bounded: only ACTIVE FCFS/CODE policies are reconciled.
    reconcileDrift: new Gauge({
      name: "coupon_reconcile_drift",
      help: "Redis admitted minus what PostgreSQL and pending admissions account for, per active policy",
      labelNames: ["policy_id"] as const,
      registers: [registry],
    }),
    recovered: new Counter({
      name: "coupon_admissions_recovered_total",
      help: "Admissions that never reached the queue and were enqueued again by recovery",
      registers: [registry],
    }),
    outboxPublished: new Counter({
      name: "coupon_outbox_published_total",
      help: "Outbox events published to the event stream and marked published (a batch republished after a crash counts again)",
      registers: [registry],
    }),
    outboxLagSeconds: new Gauge({
      name: "coupon_outbox_lag_seconds",
      help: "Age of the oldest unpublished outbox event (0 when none), as of this relay's last round",
      registers: [registry],
    }),
    outboxRelayErrors: new Counter({
      name: "coupon_outbox_relay_errors_total",
      help: "Relay rounds that failed and were rolled back (their events are published again later)",
      registers: [registry],
    }),
    // No batch id label: batches are unbounded. Per-batch progress is in GET /admin/batches/:id.
    batchUsers: new Counter({
      name: "coupon_batch_users_total",
      help: "Users of DIRECT batches the worker settled, by outcome (ISSUED or the failure reason)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    batchChunkSeconds: new Histogram({
      name: "coupon_batch_chunk_duration_seconds",
      help: "Time to issue one chunk of a DIRECT batch (reserve in Redis, one transaction, settle)",
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    batchRemaining: new Gauge({
      name: "coupon_batch_remaining_users",
      help: "Users still to do in the DIRECT batches this worker is running",
      registers: [registry],
    }),
    batchesFinished: new Counter({
      name: "coupon_batches_finished_total",
      help: "DIRECT batches this worker finished, by final state",
      labelNames: ["state"] as const,
      registers: [registry],
    }),
  };
}
export type WorkerMetrics = ReturnType<typeof workerMetrics>;
