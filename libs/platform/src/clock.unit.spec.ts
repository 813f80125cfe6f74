import { clockFromEnv, OffsetClock, SystemClock } from './clock';

describe('Clock', () => {
  beforeEach(() => jest.useFakeTimers({ now: Date.UTC(2025, 5, 1, 12, 0, 0) }));
  afterEach(() => jest.useRealTimers());

  it('should read the system clock without an offset', () => {
    expect(clockFromEnv({})).toBeInstanceOf(SystemClock);
    expect(clockFromEnv({ CRONICORN_CLOCK_OFFSET_MS: '0' }).now().toISOString()).toBe(
      '2025-06-01T12:00:00.000Z',
    );
  });

  it('should shift the system clock by CRONICORN_CLOCK_OFFSET_MS, either way', () => {
    expect(clockFromEnv({ CRONICORN_CLOCK_OFFSET_MS: '-2500' }).now().toISOString()).toBe(
      '2025-06-01T11:59:57.500Z',
    );
    const ahead = new OffsetClock(60_000);
    jest.advanceTimersByTime(1_000);
    expect(ahead.now().toISOString()).toBe('2025-06-01T12:01:01.000Z');
  });

  it('should refuse an offset that is not a whole number of milliseconds', () => {
    expect(() => clockFromEnv({ CRONICORN_CLOCK_OFFSET_MS: '1.5' })).toThrow(/CRONICORN_CLOCK_OFFSET_MS/);
    expect(() => clockFromEnv({ CRONICORN_CLOCK_OFFSET_MS: 'soon' })).toThrow(/integer/);
  });
});
