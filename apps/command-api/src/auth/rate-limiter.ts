import { Inject, Injectable } from '@nestjs/common';
import { API_OPTIONS, ApiOptions } from '../common/api-options';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const MAX_BUCKETS = 10_000;

/**
 * A token bucket per API key, in memory: each replica limits on its own, so the cluster-wide
 * rate is the per-key rate times the replicas. Good enough to stop a runaway client; a shared
 * limit would need Redis or Postgres on every request.
 */
@Injectable()
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(@Inject(API_OPTIONS) private readonly options: ApiOptions) {}

  /** Takes a token for `key`: 0 when allowed, else the seconds to wait before retrying. */
  take(key: string): number {
    const { rateLimitPerSecond: rate, rateLimitBurst: burst } = this.options;
    if (rate <= 0) return 0;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, updatedAt: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * rate);
    bucket.updatedAt = now;
    if (!this.buckets.has(key)) this.remember(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
  }

  protected now(): number {
    return Date.now();
  }

  private remember(key: string, bucket: Bucket): void {
    if (this.buckets.size >= MAX_BUCKETS) {
      // Map order is insertion order: drop the oldest keys; they only regain a full bucket.
      const excess = this.buckets.size - MAX_BUCKETS + 1;
      let dropped = 0;
      for (const old of this.buckets.keys()) {
        if (dropped++ >= excess) break;
        this.buckets.delete(old);
      }
    }
    this.buckets.set(key, bucket);
  }
}
