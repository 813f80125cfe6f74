import { Clock } from '@cronicorn/platform';
import { PreciseTimer } from './precise-timer';

// Fake timers from a fixed reference instant; `step` moves the wall clock without moving
// the timers, as NTP or an operator would.

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

describe('PreciseTimer', () => {
  let step = 0;
  const clock: Clock = { now: () => new Date(Date.now() + step) };
  let fired: number[];
  const start = (at: number) => new PreciseTimer(clock, at, () => fired.push(clock.now().getTime()));

  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
    step = 0;
    fired = [];
  });
  afterEach(() => jest.useRealTimers());

  describe('When its time comes', () => {
    it('should fire once at that instant and not a millisecond before', () => {
      start(T0 + 2_500);
      jest.advanceTimersByTime(2_499);
      expect(fired).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(fired).toEqual([T0 + 2_500]);
      jest.advanceTimersByTime(10_000);
      expect(fired).toHaveLength(1);
    });

    it('should fire at once for an instant already past', () => {
      start(T0 - 5_000);
      jest.advanceTimersByTime(0);
      expect(fired).toEqual([T0]);
    });
  });

  describe('When the wall clock is stepped', () => {
    it('should wait longer after a step back', () => {
      start(T0 + 3_000);
      jest.advanceTimersByTime(1_000);
      step = -10_000;
      jest.advanceTimersByTime(2_000);
      expect(fired).toEqual([]);
      jest.advanceTimersByTime(10_000);
      expect(fired).toEqual([T0 + 3_000]);
    });

    it('should notice a step forward within a second', () => {
      start(T0 + 60_000);
      jest.advanceTimersByTime(500);
      step = 60_000;
      jest.advanceTimersByTime(1_000);
      expect(fired).toHaveLength(1);
      expect(fired[0]).toBeGreaterThanOrEqual(T0 + 60_000);
    });
  });

  describe('When cancelled', () => {
    it('should never fire', () => {
      const timer = start(T0 + 1_000);
      jest.advanceTimersByTime(500);
      timer.cancel();
      jest.advanceTimersByTime(5_000);
      expect(fired).toEqual([]);
    });
  });
});
