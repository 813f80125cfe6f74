import { schedulerOptions } from './scheduler.options';

describe('schedulerOptions', () => {
  it('should take the defaults, overridden where asked', () => {
    const options = schedulerOptions({ fireBatch: 4 });
    expect(options.fireBatch).toBe(4);
    expect(options.republishAfterMs).toBeLessThan(options.missedAfterMs);
    expect(options.owner).toMatch(/:\d+:[0-9a-f]{6}$/);
  });

  it('should refuse a republish that would come after the run counts as missed', () => {
    expect(() => schedulerOptions({ republishAfterMs: 60_000, missedAfterMs: 60_000 })).toThrow(
      /republishAfterMs \(60000\) must be shorter than missedAfterMs \(60000\)/,
    );
  });
});
