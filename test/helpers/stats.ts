/** Order statistics for tests and benchmarks (NaN for no values; the input is not changed). */

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}
