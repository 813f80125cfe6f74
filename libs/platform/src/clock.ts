/**
 * The app's notion of business time. Adapters read it and pass `now` into the pure domain;
 * nothing that plans or judges lateness calls `new Date()` directly, so a test (or an
 * operator) can shift the whole app in time.
 */
export interface Clock {
  now(): Date;
}

export class SystemClock implements Clock {
  now(): Date {
    return new Date();
  }
}

/**
 * The system clock shifted by `offsetMs` (positive: ahead). An e2e test starts the apps a
 * moment before a cron instant and sees cron runs fire at that instant without waiting for it.
 */
export class OffsetClock implements Clock {
  constructor(readonly offsetMs: number) {}

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

/** Test and ops knob: every app of one installation must run with the same value. */
export const CLOCK_OFFSET_VARIABLE = 'CRONICORN_CLOCK_OFFSET_MS';

/** The clock of an app: `CRONICORN_CLOCK_OFFSET_MS` (integer ms, may be negative; default 0). */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const raw = env[CLOCK_OFFSET_VARIABLE];
  if (raw === undefined || raw.trim() === '') return new SystemClock();
  const offsetMs = Number(raw);
  if (!Number.isInteger(offsetMs)) {
    throw new Error(`${CLOCK_OFFSET_VARIABLE} must be an integer number of milliseconds, got "${raw}"`);
  }
  return offsetMs === 0 ? new SystemClock() : new OffsetClock(offsetMs);
}
