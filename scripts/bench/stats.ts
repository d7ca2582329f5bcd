/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Growth between two sizes, for "does cost grow linearly with N": the plain ratio (10 for
 * N=1000 vs N=100 when there is no fixed cost, less with one) and the ratio of the increments
 * over the smallest size (about (1000-3)/(100-3) = 10.3 when linear).
 */
export function growth(small: { n: number; value: number }, large: { n: number; value: number }, base: { n: number; value: number }) {
  return {
    ratio: large.value / small.value,
    marginalRatio: (large.value - base.value) / (small.value - base.value),
    linearMarginalRatio: (large.n - base.n) / (small.n - base.n),
  };
}
