import { BUCKET_COUNT, bucketBounds, bucketIndex, HistogramData, quantile, summarize } from './histogram';

function histogramOf(values: number[]): HistogramData {
  const buckets = new Array<number>(BUCKET_COUNT).fill(0);
  for (const v of values) buckets[bucketIndex(v)] += 1;
  return {
    count: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    min: values.length ? Math.min(...values) : null,
    max: values.length ? Math.max(...values) : null,
    buckets,
  };
}

const nearestRank = (sorted: number[], q: number) => sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];

describe('Latency histogram', () => {
  it('should put every value in the bucket whose bounds hold it', () => {
    for (const v of [
      0,
      0.5,
      1,
      1.1,
      2,
      3,
      7,
      8,
      100,
      999,
      1000,
      65_535,
      3_600_000,
      2 ** 26 - 1,
      2 ** 26,
      1e12,
    ]) {
      const { lower, upper } = bucketBounds(bucketIndex(v));
      expect(v >= lower || (v < 1 && lower === 0)).toBe(true);
      expect(v < upper).toBe(true);
    }
    expect(bucketIndex(-5)).toBe(0);
    expect(bucketIndex(1e12)).toBe(BUCKET_COUNT - 1);
  });

  it('should cover the range without gaps', () => {
    for (let i = 1; i < BUCKET_COUNT; i++)
      expect(bucketBounds(i).lower).toBeCloseTo(bucketBounds(i - 1).upper, 9);
  });

  it('should estimate percentiles within one bucket width of the true value', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 5 + ((i * 7919) % 2000));
    const sorted = [...values].sort((a, b) => a - b);
    const data = histogramOf(values);
    for (const q of [0.5, 0.95, 0.99]) {
      const truth = nearestRank(sorted, q);
      const estimate = quantile(data, q) as number;
      expect(Math.abs(estimate - truth) / truth).toBeLessThanOrEqual(0.19);
    }
  });

  it('should give the value itself when every sample is equal, and nulls without samples', () => {
    expect(summarize(histogramOf([250, 250, 250]))).toEqual({
      count: 3,
      avg: 250,
      min: 250,
      max: 250,
      p50: 250,
      p95: 250,
      p99: 250,
    });
    expect(summarize(histogramOf([]))).toEqual({
      count: 0,
      avg: null,
      min: null,
      max: null,
      p50: null,
      p95: null,
      p99: null,
    });
  });

  it('should stay within the observed maximum in the overflow bucket', () => {
    const day = 24 * 3_600_000;
    expect(quantile(histogramOf([day, 2 * day]), 0.99)).toBe(2 * day);
  });
});
