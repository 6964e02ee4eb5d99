// Prometheus metrics (prom-client). Base units (seconds), `coupon_` prefix, and no user or coupon
// ids in labels: their number would be unbounded.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { HotCounter, HotHistogram } from "./hot-metrics.js";

/** millisecond-scale buckets, in seconds */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** persistence waits on the queue too: a backlog lasts seconds to minutes, not milliseconds */
export const PERSISTENCE_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which `promtool check metrics` rejects; the per-type gauges
  // without the suffix (nodejs_active_handles{type}...) stay, and sum() gives the same totals.
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
    registry.removeSingleMetric(name);
  }
  return registry;
}

export function gatewayMetrics(registry: Registry) {
  return {
    // Touched by every answer of the issue endpoints: hot metrics (see hot-metrics.ts).
    issueRequests: new HotCounter({
      name: "coupon_issue_requests_total",
      help: "Issue requests (FCFS and CODE) by outcome: ADMITTED or the problem code answered (refusals, 401, 429, 503...)",
      labelNames: ["way", "outcome"] as const,
      registers: [registry],
    }),
    admissionSeconds: new HotHistogram({
      name: "coupon_admission_duration_seconds",
      help: "Time from receiving an issue request to its answer (admission and enqueue)",
      labelNames: ["way"] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    // The design's "admission failure" alarm: an error, not a refusal (sold out, duplicate...).
    admissionErrors: new Counter({
      name: "coupon_admission_errors_total",
      help: "Issue requests whose admission failed with an error (Redis or PostgreSQL unreachable, a script error)",
      labelNames: ["way"] as const,
      registers: [registry],
    }),
    // Admitted (the answer was 202) but not handed to the worker: recovery enqueues them again
    // after RECOVERY_GRACE_MS, so they are late, not lost.
    enqueueFailures: new Counter({
      name: "coupon_enqueue_failures_total",
      help: "Admissions whose persistence job could not be enqueued (recovery enqueues them again after RECOVERY_GRACE_MS)",
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
      buckets: PERSISTENCE_BUCKETS,
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
    // Seconds since the epoch, so `time() - max by (name) (...)` tells how long a job has not run well.
    schedulerLastSuccess: new Gauge({
      name: "coupon_scheduler_last_success_timestamp_seconds",
      help: "When a scheduled job last finished without error on this worker (Unix time)",
      labelNames: ["name"] as const,
      registers: [registry],
    }),
    // The design's "lock failure" alarm. Only the careful path locks (the policy row, FOR UPDATE);
    // a scheduled job skipped because another worker holds its advisory lock is not a failure.
    policyLocks: new Counter({
      name: "coupon_policy_lock_acquisitions_total",
      help: "Attempts of the careful persistence path to lock a policy row, by outcome (acquired, failed)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    // policy_id is bounded: only ACTIVE FCFS/CODE policies are reconciled.
    reconcileDrift: new Gauge({
      name: "coupon_reconcile_drift",
      help: "Redis admitted minus what PostgreSQL and pending admissions account for, per active policy",
      labelNames: ["policy_id"] as const,
      registers: [registry],
    }),
    pendingAdmissions: new Gauge({
      name: "coupon_admissions_pending",
      help: "Admissions Redis holds as pending (not yet persisted) over the active policies, as of this worker's last reconciliation",
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

/** What the queue collector reads from Redis at scrape time, per queue. */
export interface QueueSnapshot {
  queue: string;
  /** jobs per BullMQ state (waiting, active, delayed, prioritized, failed, completed...) */
  counts: Record<string, number>;
  /** age of the oldest waiting job, 0 when none waits */
  oldestWaitingAgeSeconds: number;
}

/**
 * Queue depth and lag, read from Redis when Prometheus scrapes rather than kept up to date by
 * every job. One read serves both gauges; a read still running is joined, never repeated, and one
 * that does not answer within timeoutMs drops the queue series from that scrape (and counts an
 * error) instead of holding up or failing /metrics.
 */
export function queueMetrics(registry: Registry, snapshot: () => Promise<QueueSnapshot[]>, timeoutMs = 1000) {
  let running: Promise<QueueSnapshot[]> | null = null;
  // One read per scrape, shared by the metrics prom-client collects side by side.
  let current: { promise: Promise<QueueSnapshot[] | null>; settledAt: number | null } | null = null;
  const readOnce = async (): Promise<QueueSnapshot[] | null> => {
    if (!running) {
      const started = snapshot();
      running = started;
      const clear = () => {
        if (running === started) running = null;
      };
      started.then(clear, clear);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const value = await Promise.race([running, timeout]).catch(() => null);
    clearTimeout(timer);
    if (value === null) collectErrors.inc();
    return value;
  };
  const read = (): Promise<QueueSnapshot[] | null> => {
    if (current && (current.settledAt === null || Date.now() - current.settledAt < 250)) return current.promise;
    const entry: { promise: Promise<QueueSnapshot[] | null>; settledAt: number | null } = { promise: readOnce(), settledAt: null };
    void entry.promise.then(() => {
      entry.settledAt = Date.now();
    });
    current = entry;
    return entry.promise;
  };
  const jobs = new Gauge({
    name: "coupon_queue_jobs",
    help: "Jobs in each BullMQ queue by state, read from Redis at scrape time",
    labelNames: ["queue", "state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of (await read()) ?? []) {
        for (const [state, n] of Object.entries(q.counts)) this.set({ queue: q.queue, state }, n);
      }
    },
  });
  const oldestWaiting = new Gauge({
    name: "coupon_queue_oldest_waiting_age_seconds",
    help: "Age of the oldest job waiting in each queue (0 when none waits), read from Redis at scrape time",
    labelNames: ["queue"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of (await read()) ?? []) this.set({ queue: q.queue }, q.oldestWaitingAgeSeconds);
    },
  });
  const collectErrors = new Counter({
    name: "coupon_queue_collect_errors_total",
    help: "Scrapes whose queue figures could not be read from Redis in time (the queue series are missing from them)",
    registers: [registry],
    // Metrics are collected side by side: waiting for the read makes a scrape show its own error.
    async collect() {
      await read();
    },
  });
  return { jobs, oldestWaiting, collectErrors };
}
