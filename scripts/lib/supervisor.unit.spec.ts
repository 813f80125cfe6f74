import { nextRestartDelay } from './supervisor';

describe('Restart backoff', () => {
  it('should wait 1 s after the first crash', () => {
    expect(nextRestartDelay(null, 500)).toBe(1_000);
  });

  it('should double the wait on each quick crash, up to 30 s', () => {
    const waits: number[] = [];
    let wait: number | null = null;
    for (let crash = 0; crash < 8; crash++) {
      wait = nextRestartDelay(wait, 2_000);
      waits.push(wait);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('should go back to 1 s after an app stayed up for a minute', () => {
    expect(nextRestartDelay(30_000, 59_999)).toBe(30_000);
    expect(nextRestartDelay(30_000, 60_000)).toBe(1_000);
  });
});
