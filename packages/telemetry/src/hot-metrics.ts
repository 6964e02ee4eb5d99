// A counter and a histogram for the few series a stampede touches on every request, exposed by
// prom-client's registry exactly as its own Counter and Histogram are. The difference is the
// child: prom-client's children hash and validate their label values on every inc() or
// observe(), which measured about 3 µs per sold-out answer in the gateway, more than the rest of
// the answer's own work. A child here is bound to its series once; inc() is one addition and
// observe() a bucket search and three.
import type { Histogram, Registry } from "prom-client";

interface HotMetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  /** written after the default labels (prom-client's histograms put their own labels here) */
  sharedLabels?: Record<string, string>;
  metricName?: string;
}

const seriesKey = (values: readonly string[]) => values.join("\u0000");

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  if (values.length !== names.length) throw new Error(`expected ${names.length} label values, got ${values.length}`);
  return Object.fromEntries(names.map((n, i) => [n, values[i] as string]));
}

/** What the registry reads of a metric (prom-client's MetricObjectWithValues), over series of type S. */
abstract class HotMetric<L extends string, S extends { labels: Record<string, string> }> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = "sum" as const;
  protected readonly labelNames: readonly L[];
  protected readonly series = new Map<string, S>();

  constructor(opts: HotMetricOptions<L>) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
  }

  protected register(registers: Registry[]): void {
    // The registry reads name, help, type, aggregator and get(); it takes prom-client's own
    // classes in its types only.
    for (const r of registers) r.registerMetric(this as unknown as Histogram);
  }

  /** The series of these label values, made by `create` the first time. */
  protected seriesOf(values: readonly string[], create: (labels: Record<string, string>) => S): S {
    const key = seriesKey(values);
    let s = this.series.get(key);
    if (s === undefined) {
      s = create(labelsOf(this.labelNames, values));
      this.series.set(key, s);
    }
    return s;
  }

  abstract get type(): "counter" | "histogram";
  abstract reset(): void;
  protected abstract samples(): Sample[];

  async get(): Promise<{ name: string; help: string; type: string; aggregator: "sum"; values: Sample[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() };
  }
}

export interface HotCounterChild {
  inc(): void;
}

interface CounterSeries {
  labels: Record<string, string>;
  value: number;
}

export class HotCounter<L extends string> extends HotMetric<L, CounterSeries> {
  constructor(opts: HotMetricOptions<L>) {
    super(opts);
    this.register(opts.registers);
  }

  get type(): "counter" {
    return "counter";
  }

  /** The child of one series, to keep and call: labels() itself is not for the hot path. */
  labels(...values: string[]): HotCounterChild {
    const series = this.seriesOf(values, (labels) => ({ labels, value: 0 }));
    return {
      inc: () => {
        series.value++;
      },
    };
  }

  reset(): void {
    for (const s of this.series.values()) s.value = 0;
  }

  protected samples(): Sample[] {
    return [...this.series.values()].map((s) => ({ labels: { ...s.labels }, value: s.value }));
  }
}

export interface HotHistogramChild {
  observe(value: number): void;
}

interface HistogramSeries {
  labels: Record<string, string>;
  /** per bucket, not cumulative; the last one is +Inf */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class HotHistogram<L extends string> extends HotMetric<L, HistogramSeries> {  private readonly bounds: readonly number[];

  constructor(opts: HotMetricOptions<L> & { buckets: readonly number[] }) {
    super(opts);
    this.bounds = [...opts.buckets].sort((a, b) => a - b);
    this.register(opts.registers);
  }

  get type(): "histogram" {
    return "histogram";
  }

  /** The child of one series, to keep and call: labels() itself is not for the hot path. */
  labels(...values: string[]): HotHistogramChild {
    const bounds = this.bounds;
    const series = this.seriesOf(values, (labels) => ({ labels, counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 }));
    return {
      observe: (value: number) => {
        // A duration that is not a number is a bug of the caller, not a reason to fail its answer.
        if (!Number.isFinite(value)) return;
        let i = 0;
        while (i < bounds.length && value > (bounds[i] as number)) i++;
        (series.counts[i] as number)++;
        series.sum += value;
        series.count++;
      },
    };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  protected samples(): Sample[] {
    const out: Sample[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      const bucket = `${this.name}_bucket`;
      this.bounds.forEach((bound, i) => {
        cumulative += s.counts[i] as number;
        out.push({ metricName: bucket, labels: { le: bound }, sharedLabels: s.labels, value: cumulative });
      });
      out.push({ metricName: bucket, labels: { le: "+Inf" }, sharedLabels: s.labels, value: s.count });
      out.push({ metricName: `${this.name}_sum`, labels: {}, sharedLabels: s.labels, value: s.sum });
      out.push({ metricName: `${this.name}_count`, labels: {}, sharedLabels: s.labels, value: s.count });
    }
    return out;
  }
}
