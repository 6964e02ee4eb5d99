// A look inside the gateway during a measured run, from its own /metrics: time spent in the
// issue handler (coupon_admission_duration_seconds), event-loop delay and GC pauses. Scrape
// before and after; only the difference counts. prom-client resets its event-loop histogram at
// every scrape, so the "after" figures cover the run. Returns null when a metric is missing.

export async function scrape(baseUrl) {
  const text = await fetch(`${baseUrl}/metrics`).then((r) => (r.ok ? r.text() : ""), () => "");
  const series = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m) series.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  }
  return series;
}

/** Cumulative buckets of a histogram (summed over label sets), after − before. */
function bucketsDelta(before, after, name) {
  const sum = new Map();
  for (const [key, value] of after) {
    if (!key.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(key)?.[1];
    if (!le) continue;
    const bound = le === "+Inf" ? Infinity : Number(le);
    sum.set(bound, (sum.get(bound) ?? 0) + value - (before.get(key) ?? 0));
  }
  return [...sum].sort((a, b) => a[0] - b[0]);
}

function quantileBound(buckets, q) {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (!total) return null;
  return buckets.find(([, c]) => c >= q * total)?.[0] ?? Infinity;
}

function shareAbove(buckets, bound) {
  const total = buckets.at(-1)?.[1] ?? 0;
  const below = buckets.find(([le]) => le === bound)?.[1];
  return total && below !== undefined ? (total - below) / total : null;
}

function gauge(series, name) {
  for (const [key, value] of series) if (key === name || key.startsWith(`${name}{`)) return value;
  return null;
}

function sumOf(before, after, name) {
  let total = 0;
  let found = false;
  for (const [key, value] of after) {
    if (key === name || key.startsWith(`${name}{`)) {
      total += value - (before.get(key) ?? 0);
      found = true;
    }
  }
  return found ? total : null;
}

const msOf = (s) => (s === Infinity ? "∞" : `${+(s * 1000).toFixed(1)} ms`);

/** One line for the notes, or null. */
export function describeInternals(before, after) {
  if (!before.size || !after.size) return null;
  const parts = [];
  const handler = bucketsDelta(before, after, "coupon_admission_duration_seconds");
  if (handler.length) {
    const p99 = quantileBound(handler, 0.99);
    const over = shareAbove(handler, 0.025);
    const all = quantileBound(handler, 1);
    if (p99 !== null) {
      parts.push(
        `issue handler (after the JWT check) p99 ≤ ${msOf(p99)}${over !== null ? `, ${(over * 100).toFixed(1)}% > 25 ms` : ""}, all ≤ ${msOf(all)}`,
      );
    }
  }
  const lagP99 = gauge(after, "nodejs_eventloop_lag_p99_seconds");
  const lagMax = gauge(after, "nodejs_eventloop_lag_max_seconds");
  if (lagP99 !== null) parts.push(`event-loop delay p99 ${msOf(lagP99)}, max ${msOf(lagMax)}`);
  const gcCount = sumOf(before, after, "nodejs_gc_duration_seconds_count");
  const gcSum = sumOf(before, after, "nodejs_gc_duration_seconds_sum");
  if (gcCount !== null) {
    const gc = bucketsDelta(before, after, "nodejs_gc_duration_seconds");
    const longest = gc.find(([, c]) => c >= (gc.at(-1)?.[1] ?? 0))?.[0];
    parts.push(`GC ${gcCount} pauses, ${msOf(gcSum)} in all${longest !== undefined ? `, longest ≤ ${msOf(longest)}` : ""}`);
  }
  const cpu = sumOf(before, after, "process_cpu_seconds_total");
  if (cpu !== null) parts.push(`gateway CPU ${cpu.toFixed(1)} s`);
  return parts.length ? parts.join("; ") : null;
}
