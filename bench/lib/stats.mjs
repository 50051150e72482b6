// Small statistics helpers.

/** Median of numbers (mean of the middle two for an even count); NaN when empty. */
export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Percentiles (nearest rank) of latency samples in ms. */
export function percentiles(samples) {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  const at = (p) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return { n, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: n ? sorted[n - 1] : NaN, mean: n ? sum / n : NaN };
}
