import type { Clock } from '@cronicorn/platform';

/**
 * Calls `fire` once, as soon as `clock` reads `at` or later, never before. Node's timers run
 * on a monotonic clock while plans are wall-clock instants (and the wall clock may be stepped
 * by NTP or an operator): the timer wakes at most every `maxStepMs` to read the clock again,
 * so a step forward is noticed within that time and a step back (or a timer that fires a
 * little early) only makes it wait longer.
 */
export class PreciseTimer {
  private handle: NodeJS.Timeout | null = null;
  private done = false;

  constructor(
    private readonly clock: Clock,
    readonly at: number,
    private readonly fire: () => void,
    private readonly maxStepMs = 1_000,
  ) {
    this.schedule();
  }

  cancel(): void {
    this.done = true;
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
  }

  private schedule(): void {
    const wait = this.at - this.clock.now().getTime();
    this.handle = setTimeout(() => this.check(), Math.max(0, Math.min(wait, this.maxStepMs)));
  }

  private check(): void {
    this.handle = null;
    if (this.done) return;
    if (this.clock.now().getTime() < this.at) return this.schedule();
    this.done = true;
    this.fire();
  }
}
