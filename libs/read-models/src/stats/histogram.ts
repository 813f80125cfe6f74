// Fixed log-spaced buckets for latency and lateness (milliseconds). Hourly rows keep one
// count per bucket, so percentiles over any range of hours come from summed buckets instead
// of scanning runs. Changing these constants changes the meaning of stored arrays: rebuild
// the read models after doing so.

/** Buckets per doubling: bounds grow by 2^(1/4) ≈ 19 %, the worst relative error of an estimate. */
export const BUCKETS_PER_DOUBLING = 4;
/** The last finite bound is 2^26 ms (about 18.6 h); anything longer lands in the overflow bucket. */
export const DOUBLINGS = 26;
/** `[0, 1)`, then `[2^((i-1)/4), 2^(i/4))` for i = 1…104, then `[2^26, ∞)`. */
export const BUCKET_COUNT = DOUBLINGS * BUCKETS_PER_DOUBLING + 2;

/** Index (0-based) of the bucket holding `ms`; negative values count as 0. */
export function bucketIndex(ms: number): number {
  if (!(ms >= 1)) return 0;
  return Math.min(BUCKET_COUNT - 1, 1 + Math.floor(Math.log2(ms) * BUCKETS_PER_DOUBLING));
}

/** `[lower, upper)` of bucket `index`; the last bucket is unbounded. */
export function bucketBounds(index: number): { lower: number; upper: number } {
  if (index <= 0) return { lower: 0, upper: 1 };
  const upper = index === BUCKET_COUNT - 1 ? Infinity : 2 ** (index / BUCKETS_PER_DOUBLING);
  return { lower: 2 ** ((index - 1) / BUCKETS_PER_DOUBLING), upper };
}

/** What one hour (or a sum of hours) knows about a distribution. */
export interface HistogramData {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  buckets: readonly number[];
}

/** The distribution as the API shows it, in milliseconds; null fields with no samples. */
export interface DistributionSummary {
  count: number;
  avg: number | null;
  min: number | null;
  max: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * The `q`-quantile estimated from bucket counts: the bucket holding the sample of rank
 * ⌈q·n⌉, interpolated linearly inside it and kept within the observed min and max (so a
 * distribution of equal values gives that value exactly).
 */
export function quantile(data: HistogramData, q: number): number | null {
  const total = data.buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let below = 0;
  for (let i = 0; i < data.buckets.length; i++) {
    const n = data.buckets[i];
    if (n === 0 || below + n < rank) {
      below += n;
      continue;
    }
    const { lower, upper } = bucketBounds(i);
    const top = Number.isFinite(upper) ? upper : (data.max ?? lower);
    let estimate = lower + ((top - lower) * (rank - below)) / n;
    if (data.min !== null) estimate = Math.max(estimate, data.min);
    if (data.max !== null) estimate = Math.min(estimate, data.max);
    return Math.round(estimate);
  }
  return null;
}

export function summarize(data: HistogramData): DistributionSummary {
  if (data.count === 0) return { count: 0, avg: null, min: null, max: null, p50: null, p95: null, p99: null };
  return {
    count: data.count,
    avg: Math.round(data.sum / data.count),
    min: data.min,
    max: data.max,
    p50: quantile(data, 0.5),
    p95: quantile(data, 0.95),
    p99: quantile(data, 0.99),
  };
}
