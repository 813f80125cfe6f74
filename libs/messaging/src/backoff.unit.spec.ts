import { backoffMs, Wakeup } from './backoff';

describe('backoffMs', () => {
  it('should grow exponentially within jitter bounds and stop at the maximum', () => {
    for (let i = 0; i < 50; i++) {
      expect(backoffMs(1, 100, 1_000)).toBeGreaterThanOrEqual(50);
      expect(backoffMs(1, 100, 1_000)).toBeLessThanOrEqual(100);
      expect(backoffMs(3, 100, 1_000)).toBeGreaterThanOrEqual(200);
      expect(backoffMs(3, 100, 1_000)).toBeLessThanOrEqual(400);
      expect(backoffMs(30, 100, 1_000)).toBeLessThanOrEqual(1_000);
    }
  });
});

describe('Wakeup', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  it('should end a wait early on wake, and remember a wake that came while nobody waited', async () => {
    const wakeup = new Wakeup();
    let woke = false;
    const waiting = wakeup.wait(60_000).then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);

    wakeup.wake();
    await waiting;
    expect(woke).toBe(true);

    wakeup.wake();
    await wakeup.wait(60_000);
  });

  it('should end a wait when the timeout passes', async () => {
    const wakeup = new Wakeup();
    const waiting = wakeup.wait(1_000);
    jest.advanceTimersByTime(1_000);
    await waiting;
  });
});
