import { RateLimiter } from './rate-limiter';

class ClockedLimiter extends RateLimiter {
  time = 1_000_000;
  protected override now(): number {
    return this.time;
  }
}

const limiter = (rateLimitPerSecond: number, rateLimitBurst: number) =>
  new ClockedLimiter({ rateLimitPerSecond, rateLimitBurst, minPositionTimeoutMs: 0, maxStreamsPerTenant: 1 });

describe('RateLimiter', () => {
  it('should allow the burst, then ask to wait for the next token', () => {
    const l = limiter(2, 3);
    expect([l.take('k'), l.take('k'), l.take('k')]).toEqual([0, 0, 0]);
    expect(l.take('k')).toBe(1);
  });

  it('should refill at the sustained rate', () => {
    const l = limiter(2, 1);
    expect(l.take('k')).toBe(0);
    expect(l.take('k')).toBeGreaterThan(0);
    l.time += 500;
    expect(l.take('k')).toBe(0);
  });

  it('should not spend tokens on rejected requests', () => {
    const l = limiter(1, 1);
    l.take('k');
    for (let i = 0; i < 5; i++) expect(l.take('k')).toBe(1);
    l.time += 1000;
    expect(l.take('k')).toBe(0);
  });

  it('should round Retry-After up to whole seconds for slow rates', () => {
    const l = limiter(0.1, 1);
    l.take('k');
    expect(l.take('k')).toBe(10);
  });

  it('should keep keys apart', () => {
    const l = limiter(1, 1);
    expect(l.take('a')).toBe(0);
    expect(l.take('b')).toBe(0);
    expect(l.take('a')).toBeGreaterThan(0);
  });

  it('should allow everything when the rate is 0', () => {
    const l = limiter(0, 1);
    for (let i = 0; i < 10; i++) expect(l.take('k')).toBe(0);
  });
});
