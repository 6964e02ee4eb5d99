// What a benchmark hands back: table rows (name, measured, baseline, ratio, target, verdict)
// and free-form notes printed under the table. Numbers are formatted here, once.

const n0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export const fmt = {
  int: (v) => n0.format(v),
  rps: (v) => `${n0.format(v)} req/s`,
  perSec: (v, unit) => `${n0.format(v)} ${unit}/s`,
  ms: (v) => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`,
  s: (v) => `${v.toFixed(2)} s`,
  ratio: (v) => (Number.isFinite(v) ? v.toFixed(2) : "—"),
};

/** met: true / false, or undefined for a row that only informs. */
export function row(name, { measured, baseline = "—", ratio = "—", target = "—", met }) {
  return { name, measured, baseline, ratio, target, verdict: met === undefined ? "info" : met ? "met" : "MISSED" };
}

export function failedRow(name, err) {
  return { name, measured: "error", baseline: "—", ratio: "—", target: "—", verdict: "ERROR", error: err };
}
