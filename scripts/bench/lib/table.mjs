// Prints rows as an aligned plain-text table.
const COLUMNS = [
  ["name", "benchmark"],
  ["measured", "measured"],
  ["baseline", "baseline"],
  ["ratio", "ratio"],
  ["target", "target"],
  ["verdict", "verdict"],
];

export function renderTable(rows) {
  const widths = COLUMNS.map(([key, title]) => Math.max(title.length, ...rows.map((r) => String(r[key]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join("  ").trimEnd();
  return [
    line(COLUMNS.map(([, title]) => title)),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(COLUMNS.map(([key]) => r[key]))),
  ].join("\n");
}
