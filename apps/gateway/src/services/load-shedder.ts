// Tells whether the event loop is lagging: a timer that should fire every SAMPLE_MS measures how
// late it came. While the last measure is over the threshold, expensive routes answer 503 at
// once instead of queueing more work behind the backlog; the next punctual tick ends it.
//
// A timer of our own rather than @fastify/under-pressure: the check per request is one boolean
// read, and the lateness of a timer is exactly the wait a request queued now would see, where
// under-pressure's histogram mean would dilute one long stall among many short samples.
const SAMPLE_MS = 100;

export class LoadShedder {
  private lagging = false;
  private lastTick = 0;
  private timer: NodeJS.Timeout | null = null;
  /** the latest measured lag, for logs and tests */
  lagMs = 0;

  constructor(
    private readonly thresholdMs: number,
    private readonly onChange: (shedding: boolean, lagMs: number) => void = () => {},
  ) {}

  get enabled(): boolean {
    return this.thresholdMs > 0;
  }

  /** Starts sampling; call it once the app is ready, so that start-up work is not taken for lag. */
  start(): void {
    if (!this.enabled || this.timer) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), SAMPLE_MS);
    this.timer.unref();
  }

  /** true while the loop lags: the caller answers 503 and changes nothing */
  get shedding(): boolean {
    return this.lagging;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.lagging = false;
  }

  private tick(): void {
    const now = performance.now();
    this.lagMs = Math.max(0, now - this.lastTick - SAMPLE_MS);
    this.lastTick = now;
    const lagging = this.lagMs > this.thresholdMs;
    if (lagging !== this.lagging) this.onChange(lagging, this.lagMs);
    this.lagging = lagging;
  }
}
