import { EndpointSchedule } from '@cronicorn/events';
import { planNextRun } from './governor';
import { GovernedEndpoint, GovernorHint, GovernorOptions, RunHistory, RunPlan } from './governor.types';
import { decideDue } from './overlap';

// Every test starts from fixed instants: the governor never reads the clock.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const CREATED = '2025-06-01T00:00:00.000Z';

const interval = (intervalMs: number): EndpointSchedule => ({ kind: 'interval', intervalMs });
const cron = (expression: string, timezone = 'UTC'): EndpointSchedule => ({
  kind: 'cron',
  cron: expression,
  timezone,
});
const once = (runAt: string): EndpointSchedule => ({ kind: 'once', runAt });

function endpoint(overrides: Partial<GovernedEndpoint> = {}): GovernedEndpoint {
  return {
    endpointId: 'ep-1',
    createdAt: CREATED,
    status: { kind: 'active' },
    job: { kind: 'active' },
    hints: [],
    schedule: interval(10 * MINUTE),
    startAt: null,
    endAt: null,
    maxRuns: null,
    minIntervalMs: null,
    maxIntervalMs: null,
    jitterMs: 0,
    catchUp: 'once',
    overlap: 'skip',
    pauseAfterFailures: null,
    ...overrides,
  };
}

function history(overrides: Partial<RunHistory> = {}): RunHistory {
  return {
    lastRun: null,
    lastFinished: null,
    consecutiveFailures: 0,
    scheduledRuns: 0,
    skippedThrough: null,
    pendingPlan: null,
    inFlight: false,
    queued: false,
    ...overrides,
  };
}

/** The last run started at `startedAt` (handed out for `scheduledFor`). */
const ranAt = (startedAt: string, scheduledFor = startedAt, overrides: Partial<RunHistory> = {}) =>
  history({ lastRun: { scheduledFor, startedAt }, scheduledRuns: 1, ...overrides });

const pending = (runAt: string, slot = runAt) => ({ pendingPlan: { runAt, slot } });

function hint(kind: 'interval', value: number, expiresAt: string, proposedAt?: string): GovernorHint;
function hint(
  kind: 'one_shot' | 'pause',
  value: string,
  expiresAt: string,
  proposedAt?: string,
): GovernorHint;
function hint(kind: GovernorHint['kind'], value: number | string, expiresAt: string, proposedAt = CREATED) {
  return { hintId: `hint-${kind}-${String(value)}`, kind, value, expiresAt, proposedAt } as GovernorHint;
}

const plan = (now: string, ep: GovernedEndpoint, h = history(), options: Partial<GovernorOptions> = {}) =>
  planNextRun(new Date(now), ep, h, options);

const summary = (result: RunPlan) => ({ runAt: result.runAt?.toISOString() ?? null, reason: result.reason });

describe('Governor', () => {
  describe('When the endpoint cannot run', () => {
    const now = '2025-06-02T12:00:00.000Z';
    it.each<[string, Partial<GovernedEndpoint>, Partial<RunHistory>, string]>([
      ['archived', { status: { kind: 'archived' } }, {}, 'archived'],
      ['in an archived job', { job: { kind: 'archived' } }, {}, 'job_archived'],
      ['past its endAt', { endAt: '2025-06-02T11:00:00.000Z' }, {}, 'ended:end_at'],
      ['at its maxRuns', { maxRuns: 3 }, { scheduledRuns: 3 }, 'ended:max_runs'],
      [
        'a one-time run that ran',
        { schedule: once('2025-06-02T13:00:00.000Z') },
        { scheduledRuns: 1 },
        'ended:once',
      ],
      [
        'a one-time run that was skipped',
        { schedule: once('2025-06-02T11:00:00.000Z') },
        { skippedThrough: '2025-06-02T11:00:00.000Z' },
        'ended:once',
      ],
      ['paused indefinitely', { status: { kind: 'paused', until: null } }, {}, 'paused'],
      ['in a job paused indefinitely', { job: { kind: 'paused', until: null } }, {}, 'job_paused'],
      ['on an invalid cron', { schedule: cron('* * *') }, {}, 'invalid_schedule'],
      ['in an unknown time zone', { schedule: cron('0 9 * * *', 'Mars/Olympus') }, {}, 'invalid_schedule'],
      ['on a non-positive interval', { schedule: interval(0) }, {}, 'invalid_schedule'],
    ])('should plan nothing when %s', (_, ep, h, reason) => {
      expect(summary(plan(now, endpoint(ep), history(h)))).toEqual({ runAt: null, reason });
    });
  });

  describe('When paused until a time', () => {
    const now = '2025-06-02T12:00:00.000Z';
    const lastRun = ranAt('2025-06-02T11:59:00.000Z');

    it('should plan the first run at the end of a user pause', () => {
      const result = plan(
        now,
        endpoint({ status: { kind: 'paused', until: '2025-06-02T14:00:00.000Z' } }),
        lastRun,
      );
      expect(summary(result)).toEqual({ runAt: '2025-06-02T14:00:00.000Z', reason: 'paused_until' });
      expect(result.inputs).toMatchObject({
        pausedUntil: '2025-06-02T14:00:00.000Z',
        planAfterPause: 'interval',
      });
    });

    it('should plan the first cron slot after a job pause', () => {
      const ep = endpoint({
        schedule: cron('30 * * * *'),
        job: { kind: 'paused', until: '2025-06-02T14:00:00.000Z' },
      });
      const result = plan(now, ep, lastRun);
      expect(summary(result)).toEqual({ runAt: '2025-06-02T14:30:00.000Z', reason: 'job_paused_until' });
      expect(result.inputs.planAfterPause).toBe('cron');
    });

    it('should ignore a pause that has ended', () => {
      const ep = endpoint({ status: { kind: 'paused', until: '2025-06-02T11:00:00.000Z' } });
      expect(summary(plan(now, ep, lastRun))).toEqual({
        runAt: '2025-06-02T12:09:00.000Z',
        reason: 'interval',
      });
    });

    it.each([
      [
        'cap it at AI_MAX_PAUSE_MS from its proposal',
        '2025-06-04T12:00:00.000Z',
        '2025-06-05T00:00:00.000Z',
        {},
        '2025-06-03T12:00:00.000Z',
      ],
      [
        'end it when the hint expires',
        '2025-06-02T18:00:00.000Z',
        '2025-06-02T15:00:00.000Z',
        {},
        '2025-06-02T15:00:00.000Z',
      ],
      [
        'use the configured cap',
        '2025-06-02T18:00:00.000Z',
        '2025-06-02T20:00:00.000Z',
        { aiMaxPauseMs: HOUR },
        '2025-06-02T13:00:00.000Z',
      ],
    ])('should honour an AI pause and %s', (_, until, expiresAt, options, expected) => {
      const ep = endpoint({ hints: [hint('pause', until, expiresAt, now)] });
      expect(summary(plan(now, ep, lastRun, options))).toEqual({ runAt: expected, reason: 'hint:pause' });
    });

    it("should hold a user's pause to its own limits, not to AI_MAX_PAUSE_MS", () => {
      const pause = {
        ...hint('pause', '2025-06-04T12:00:00.000Z', '2025-06-04T12:00:00.000Z', now),
        source: 'api' as const,
      };
      expect(summary(plan(now, endpoint({ hints: [pause] }), lastRun))).toEqual({
        runAt: '2025-06-04T12:00:00.000Z',
        reason: 'hint:pause',
      });
    });

    it('should ignore an expired AI pause', () => {
      const ep = endpoint({ hints: [hint('pause', '2025-06-02T18:00:00.000Z', '2025-06-02T11:00:00.000Z')] });
      expect(plan(now, ep, lastRun).reason).toBe('interval');
    });

    it('should wait for the pause that ends last', () => {
      const ep = endpoint({
        status: { kind: 'paused', until: '2025-06-02T14:00:00.000Z' },
        hints: [hint('pause', '2025-06-02T16:00:00.000Z', '2025-06-03T00:00:00.000Z', now)],
      });
      expect(summary(plan(now, ep, lastRun))).toEqual({
        runAt: '2025-06-02T16:00:00.000Z',
        reason: 'hint:pause',
      });
    });

    it.each([
      [
        'run a one-shot still in force at the end of the pause',
        '2025-06-02T15:00:00.000Z',
        '2025-06-02T14:00:00.000Z',
        'hint:one_shot',
      ],
      [
        'forget a one-shot that expired during the pause',
        '2025-06-02T13:30:00.000Z',
        '2025-06-02T14:30:00.000Z',
        'cron',
      ],
    ])('should %s', (_, expiresAt, expected, planAfterPause) => {
      const ep = endpoint({
        schedule: cron('30 * * * *'),
        status: { kind: 'paused', until: '2025-06-02T14:00:00.000Z' },
        hints: [hint('one_shot', '2025-06-02T13:00:00.000Z', expiresAt)],
      });
      const result = plan(now, ep, lastRun);
      expect(summary(result)).toEqual({ runAt: expected, reason: 'paused_until' });
      expect(result.inputs.planAfterPause).toBe(planAfterPause);
    });

    it('should plan nothing when the pause ends after endAt', () => {
      const ep = endpoint({
        status: { kind: 'paused', until: '2025-06-02T14:00:00.000Z' },
        endAt: '2025-06-02T13:00:00.000Z',
      });
      expect(summary(plan(now, ep, lastRun))).toEqual({ runAt: null, reason: 'ended:end_at' });
    });
  });

  describe('When the schedule is a cron', () => {
    it('should plan the next fire time after now', () => {
      const ep = endpoint({ schedule: cron('0 * * * *') });
      expect(summary(plan('2025-06-02T12:10:00.000Z', ep))).toEqual({
        runAt: '2025-06-02T13:00:00.000Z',
        reason: 'cron',
      });
    });

    it('should run a 02:30 Berlin job at 03:30 CEST on the spring-forward day, then at 02:30 again', () => {
      const ep = endpoint({
        schedule: cron('30 2 * * *', 'Europe/Berlin'),
        createdAt: '2025-01-01T00:00:00.000Z',
      });
      const before = plan('2025-03-29T12:00:00.000Z', ep, ranAt('2025-03-29T01:30:00.000Z'));
      expect(summary(before)).toEqual({ runAt: '2025-03-30T01:30:00.000Z', reason: 'cron' });
      const after = plan('2025-03-30T01:30:01.000Z', ep, ranAt('2025-03-30T01:30:00.000Z'));
      expect(summary(after)).toEqual({ runAt: '2025-03-31T00:30:00.000Z', reason: 'cron' });
    });

    it('should still run the 03:30 CEST run of a 02:30 Berlin job when it comes due', () => {
      const ep = endpoint({
        schedule: cron('30 2 * * *', 'Europe/Berlin'),
        createdAt: '2025-01-01T00:00:00.000Z',
      });
      const stored = { ...ranAt('2025-03-29T01:30:00.000Z'), ...pending('2025-03-30T01:30:00.000Z') };
      const due = plan('2025-03-30T01:30:00.200Z', ep, stored);
      expect(summary(due)).toEqual({ runAt: '2025-03-30T01:30:00.200Z', reason: 'cron' });
      expect(due.slot?.toISOString()).toBe('2025-03-30T01:30:00.000Z');
      const replanned = plan('2025-03-30T01:10:00.000Z', ep, ranAt('2025-03-29T01:30:00.000Z'));
      expect(replanned.runAt?.toISOString()).toBe('2025-03-30T01:30:00.000Z');
    });

    it('should not run a 02:30 Berlin job again when re-planned inside the repeated hour', () => {
      const ep = endpoint({
        schedule: cron('30 2 * * *', 'Europe/Berlin'),
        createdAt: '2025-01-01T00:00:00.000Z',
      });
      const result = plan('2025-10-26T01:15:00.000Z', ep, ranAt('2025-10-26T00:30:00.000Z'));
      expect(summary(result)).toEqual({ runAt: '2025-10-27T01:30:00.000Z', reason: 'cron' });
    });

    it('should run a 01:30 New York job once on the fall-back day', () => {
      const ep = endpoint({ schedule: cron('30 1 * * *', 'America/New_York') });
      const first = plan('2025-11-01T12:00:00.000Z', ep, ranAt('2025-11-01T05:30:00.000Z'));
      expect(first.runAt?.toISOString()).toBe('2025-11-02T05:30:00.000Z');
      const second = plan('2025-11-02T05:30:02.000Z', ep, ranAt('2025-11-02T05:30:00.000Z'));
      expect(second.runAt?.toISOString()).toBe('2025-11-03T06:30:00.000Z');
    });

    it('should keep a stored slot that is due rather than step over it', () => {
      const ep = endpoint({ schedule: cron('0 * * * *') });
      const lastRun = ranAt('2025-06-02T12:00:00.000Z');
      const now = '2025-06-02T13:00:00.200Z';
      const due = plan(now, ep, { ...lastRun, ...pending('2025-06-02T13:00:00.000Z') });
      expect(summary(due)).toEqual({ runAt: now, reason: 'cron' });
      expect(due.slot?.toISOString()).toBe('2025-06-02T13:00:00.000Z');
    });

    it('should plan the following slot once the due one is handed out', () => {
      const ep = endpoint({ schedule: cron('0 * * * *') });
      const handedOut = history({
        lastRun: { scheduledFor: '2025-06-02T13:00:00.000Z', startedAt: null },
        scheduledRuns: 2,
      });
      expect(plan('2025-06-02T13:00:00.300Z', ep, handedOut).runAt?.toISOString()).toBe(
        '2025-06-02T14:00:00.000Z',
      );
    });

    it('should not plan before startAt', () => {
      const ep = endpoint({ schedule: cron('0 * * * *'), startAt: '2025-06-03T09:30:00.000Z' });
      expect(plan('2025-06-02T12:10:00.000Z', ep).runAt?.toISOString()).toBe('2025-06-03T10:00:00.000Z');
    });
  });

  describe('When the schedule is an interval', () => {
    const now = '2025-06-02T12:00:00.000Z';

    it('should run the first time at once', () => {
      const result = plan(now, endpoint());
      expect(summary(result)).toEqual({ runAt: now, reason: 'interval' });
      expect(result.slot?.toISOString()).toBe(CREATED);
    });

    it('should run the first time at startAt', () => {
      const ep = endpoint({ startAt: '2025-06-03T08:00:00.000Z' });
      expect(summary(plan(now, ep))).toEqual({ runAt: '2025-06-03T08:00:00.000Z', reason: 'interval' });
    });

    it("should measure from the last run's start", () => {
      const lastRun = ranAt('2025-06-02T11:55:02.000Z', '2025-06-02T11:55:00.000Z');
      expect(plan(now, endpoint(), lastRun).runAt?.toISOString()).toBe('2025-06-02T12:05:02.000Z');
    });

    it('should measure from a slot skipped after the last run', () => {
      const h = ranAt('2025-06-02T11:50:00.000Z', undefined, { skippedThrough: '2025-06-02T11:55:00.000Z' });
      expect(plan(now, endpoint(), h).runAt?.toISOString()).toBe('2025-06-02T12:05:00.000Z');
    });
  });

  describe('When the schedule is one-time', () => {
    it('should plan its runAt', () => {
      const ep = endpoint({ schedule: once('2025-06-02T15:00:00.000Z') });
      expect(summary(plan('2025-06-02T12:00:00.000Z', ep))).toEqual({
        runAt: '2025-06-02T15:00:00.000Z',
        reason: 'once',
      });
    });

    it('should run at once when its runAt passed without a run', () => {
      const ep = endpoint({ schedule: once('2025-06-02T10:00:00.000Z') });
      expect(summary(plan('2025-06-02T12:00:00.000Z', ep))).toEqual({
        runAt: '2025-06-02T12:00:00.000Z',
        reason: 'once',
      });
    });

    it('should take no one-shot or interval hint: it runs once, at its runAt', () => {
      const ep = endpoint({
        schedule: once('2025-06-02T15:00:00.000Z'),
        hints: [
          hint('one_shot', '2025-06-02T13:00:00.000Z', '2025-06-02T16:00:00.000Z'),
          hint('interval', 10 * MINUTE, '2025-06-02T16:00:00.000Z'),
        ],
      });
      expect(summary(plan('2025-06-02T12:00:00.000Z', ep))).toEqual({
        runAt: '2025-06-02T15:00:00.000Z',
        reason: 'once',
      });
    });

    it('should fire once only', () => {
      const ep = endpoint({ schedule: once('2025-06-02T10:00:00.000Z') });
      const h = ranAt('2025-06-02T10:00:00.000Z');
      expect(summary(plan('2025-06-02T10:00:01.000Z', ep, h))).toEqual({ runAt: null, reason: 'ended:once' });
    });
  });

  describe('When an interval hint is active', () => {
    const now = '2025-06-02T12:00:01.000Z';
    const lastRun = ranAt('2025-06-02T12:00:00.000Z');
    const withHint = (
      ms: number,
      expiresAt = '2025-06-02T14:00:00.000Z',
      overrides: Partial<GovernedEndpoint> = {},
    ) => endpoint({ hints: [hint('interval', ms, expiresAt)], ...overrides });

    it.each([
      ['tighten the schedule', 2 * MINUTE, '2025-06-02T12:02:00.000Z'],
      ['postpone the baseline run when it lengthens the interval', 30 * MINUTE, '2025-06-02T12:30:00.000Z'],
    ])('should %s', (_, ms, expected) => {
      expect(summary(plan(now, withHint(ms), lastRun))).toEqual({ runAt: expected, reason: 'hint:interval' });
    });

    it('should replace a cron baseline too', () => {
      const ep = withHint(5 * MINUTE, '2025-06-02T13:00:00.000Z', { schedule: cron('0 * * * *') });
      expect(summary(plan(now, ep, lastRun))).toEqual({
        runAt: '2025-06-02T12:05:00.000Z',
        reason: 'hint:interval',
      });
    });

    it('should fall back to the baseline once expired', () => {
      const ep = withHint(2 * MINUTE, '2025-06-02T11:00:00.000Z');
      expect(summary(plan(now, ep, lastRun))).toEqual({
        runAt: '2025-06-02T12:10:00.000Z',
        reason: 'interval',
      });
    });

    it('should hand back to an overdue baseline at the expiry when its own run comes later', () => {
      const result = plan(
        now,
        withHint(30 * MINUTE, '2025-06-02T12:20:00.000Z'),
        ranAt('2025-06-02T12:00:00.000Z'),
      );
      expect(summary(result)).toEqual({ runAt: '2025-06-02T12:20:00.000Z', reason: 'interval' });
      expect(result.inputs.hintExpiresBeforeItsRun).toBe(true);
    });

    it('should hand back to the next cron slot after the expiry when its own run comes later', () => {
      const ep = withHint(5 * MINUTE, '2025-06-02T12:00:00.000Z', { schedule: cron('0 9 * * *') });
      const result = plan('2025-06-02T11:58:01.000Z', ep, ranAt('2025-06-02T11:58:00.000Z'));
      expect(summary(result)).toEqual({ runAt: '2025-06-03T09:00:00.000Z', reason: 'cron' });
    });

    it('should be capped at maxIntervalMs', () => {
      const result = plan(now, withHint(HOUR, undefined, { maxIntervalMs: 20 * MINUTE }), lastRun);
      expect(summary(result)).toEqual({ runAt: '2025-06-02T12:20:00.000Z', reason: 'hint:interval' });
      expect(result.inputs).toMatchObject({ hintIntervalMs: 20 * MINUTE, hintRequestedMs: HOUR });
    });

    it('should keep a 5 h hint on a daily cron with a 2 h maxIntervalMs', () => {
      const ep = withHint(5 * HOUR, '2025-06-03T00:00:00.000Z', {
        schedule: cron('0 9 * * *'),
        maxIntervalMs: 2 * HOUR,
      });
      const result = plan('2025-06-02T09:00:01.000Z', ep, ranAt('2025-06-02T09:00:00.000Z'));
      expect(summary(result)).toEqual({ runAt: '2025-06-02T14:00:00.000Z', reason: 'hint:interval' });
    });

    it('should leave the first run to the baseline', () => {
      expect(summary(plan(now, withHint(MINUTE)))).toEqual({ runAt: now, reason: 'interval' });
    });

    it('should follow the newest hint', () => {
      const ep = endpoint({
        hints: [
          hint('interval', 3 * MINUTE, '2025-06-02T14:00:00.000Z', '2025-06-02T11:30:00.000Z'),
          hint('interval', 7 * MINUTE, '2025-06-02T14:00:00.000Z', '2025-06-02T11:00:00.000Z'),
        ],
      });
      expect(plan(now, ep, lastRun).runAt?.toISOString()).toBe('2025-06-02T12:03:00.000Z');
    });
  });

  describe('When the plan is recomputed after a hint', () => {
    const lastRun = ranAt('2025-06-02T12:00:00.000Z');

    it('should move the stored plan, later or earlier, and back when the hints are cleared', () => {
      const baseline = plan('2025-06-02T12:00:01.000Z', endpoint(), lastRun);
      expect(baseline.runAt?.toISOString()).toBe('2025-06-02T12:10:00.000Z');
      const stored = { ...lastRun, ...pending('2025-06-02T12:10:00.000Z') };
      const longer = plan(
        '2025-06-02T12:05:00.000Z',
        endpoint({ hints: [hint('interval', 30 * MINUTE, '2025-06-02T14:00:00.000Z')] }),
        stored,
      );
      expect(longer.runAt?.toISOString()).toBe('2025-06-02T12:30:00.000Z');
      const shorter = plan(
        '2025-06-02T12:05:00.000Z',
        endpoint({ hints: [hint('interval', 6 * MINUTE, '2025-06-02T14:00:00.000Z')] }),
        stored,
      );
      expect(shorter.runAt?.toISOString()).toBe('2025-06-02T12:06:00.000Z');
      expect(plan('2025-06-02T12:05:00.000Z', endpoint(), stored).runAt?.toISOString()).toBe(
        '2025-06-02T12:10:00.000Z',
      );
    });
  });

  describe('When a one-shot hint is active', () => {
    const now = '2025-06-02T12:00:01.000Z';
    const lastRun = ranAt('2025-06-02T12:00:00.000Z');
    const hourly = (
      oneShotAt: string,
      expiresAt = '2025-06-02T14:00:00.000Z',
      overrides: Partial<GovernedEndpoint> = {},
    ) =>
      endpoint({ schedule: interval(HOUR), hints: [hint('one_shot', oneShotAt, expiresAt)], ...overrides });

    it.each([
      [
        'win when earlier than the baseline',
        '2025-06-02T12:20:00.000Z',
        '2025-06-02T12:20:00.000Z',
        'hint:one_shot',
      ],
      [
        'lose when later than the baseline',
        '2025-06-02T13:30:00.000Z',
        '2025-06-02T13:00:00.000Z',
        'interval',
      ],
    ])('should %s', (_, oneShotAt, expected, reason) => {
      expect(summary(plan(now, hourly(oneShotAt), lastRun))).toEqual({ runAt: expected, reason });
    });

    it('should be consumed by a run at or after its time', () => {
      const h = ranAt('2025-06-02T12:20:01.000Z', '2025-06-02T12:20:00.000Z');
      expect(summary(plan('2025-06-02T12:20:02.000Z', hourly('2025-06-02T12:20:00.000Z'), h))).toEqual({
        runAt: '2025-06-02T13:20:01.000Z',
        reason: 'interval',
      });
    });

    it('should be ignored once expired', () => {
      const ep = hourly('2025-06-02T12:20:00.000Z', '2025-06-02T12:10:00.000Z');
      expect(plan('2025-06-02T12:15:00.000Z', ep, lastRun).reason).toBe('interval');
    });

    it('should run at once when its time passed without a run', () => {
      const h = ranAt('2025-06-02T11:30:00.000Z');
      expect(summary(plan(now, hourly('2025-06-02T11:50:00.000Z'), h))).toEqual({
        runAt: now,
        reason: 'hint:one_shot',
      });
    });

    it('should not be delayed by backoff', () => {
      const h = ranAt('2025-06-02T12:00:00.000Z', undefined, { consecutiveFailures: 3 });
      const ep = hourly('2025-06-02T12:20:00.000Z', undefined, { schedule: interval(10 * MINUTE) });
      expect(summary(plan(now, ep, h))).toEqual({
        runAt: '2025-06-02T12:20:00.000Z',
        reason: 'hint:one_shot',
      });
    });

    it('should respect minIntervalMs', () => {
      const ep = hourly('2025-06-02T12:20:00.000Z', undefined, { minIntervalMs: 30 * MINUTE });
      expect(summary(plan(now, ep, lastRun))).toEqual({
        runAt: '2025-06-02T12:30:00.000Z',
        reason: 'min_interval',
      });
    });

    it('should give way to the schedule when a floor pushes it past its expiry', () => {
      const ep = hourly('2025-06-02T12:20:00.000Z', '2025-06-02T12:25:00.000Z', {
        minIntervalMs: 30 * MINUTE,
      });
      expect(summary(plan(now, ep, lastRun))).toEqual({
        runAt: '2025-06-02T13:00:00.000Z',
        reason: 'interval',
      });
    });
  });

  describe("When a hint's run comes due just before the hint expires", () => {
    // The stored plan is handed out a little after its runAt: by then the hint has expired.
    const lastRun = ranAt('2025-06-02T12:04:59.990Z');
    const every5 = hint('interval', 5 * MINUTE, '2025-06-02T12:10:00.000Z');
    const oneShot = hint('one_shot', '2025-06-02T12:07:00.000Z', '2025-06-02T12:07:01.000Z');
    const hintRun = '2025-06-02T12:09:59.990Z';

    it.each<[string, GovernorHint, string, string, string | null, string]>([
      [
        'interval hint, handed out 20 ms late',
        every5,
        hintRun,
        '2025-06-02T12:10:00.010Z',
        'now',
        'hint:interval',
      ],
      [
        'interval hint, handed out 30 s late',
        every5,
        hintRun,
        '2025-06-02T12:10:29.990Z',
        'now',
        'hint:interval',
      ],
      [
        'one-shot, handed out 2 s late',
        oneShot,
        '2025-06-02T12:07:00.000Z',
        '2025-06-02T12:07:02.000Z',
        'now',
        'hint:one_shot',
      ],
      // Missed by more than the grace: catch-up decides, as without the hint.
      [
        'interval hint, missed for 10 min',
        every5,
        hintRun,
        '2025-06-02T12:20:00.000Z',
        'now',
        'catch_up:once',
      ],
    ])('should still hand out the run it planned: %s', (_, h, storedRunAt, now, runAt, reason) => {
      const ep = endpoint({ hints: [h] });
      const stored = { ...lastRun, ...pending(storedRunAt) };
      expect(plan(lastRun.lastRun!.startedAt!, ep, lastRun).runAt?.toISOString()).toBe(storedRunAt);
      expect(summary(plan(now, ep, stored))).toEqual({ runAt: runAt === 'now' ? now : runAt, reason });
    });

    it('should plan without the expired hint once its run is handed out', () => {
      const handedOut = ranAt('2025-06-02T12:10:00.010Z', hintRun);
      expect(summary(plan('2025-06-02T12:10:00.020Z', endpoint({ hints: [every5] }), handedOut))).toEqual({
        runAt: '2025-06-02T12:20:00.010Z',
        reason: 'interval',
      });
    });
  });

  describe('When runs fail in a row', () => {
    const now = '2025-06-02T12:00:01.000Z';
    const failing = (consecutiveFailures: number) =>
      ranAt('2025-06-02T12:00:00.000Z', undefined, { consecutiveFailures });

    it.each<[number, Partial<GovernedEndpoint>, string, string]>([
      [0, {}, '2025-06-02T12:01:00.000Z', 'interval'],
      [1, {}, '2025-06-02T12:01:00.000Z', 'interval'],
      [2, {}, '2025-06-02T12:02:00.000Z', 'backoff'],
      [3, {}, '2025-06-02T12:04:00.000Z', 'backoff'],
      [8, {}, '2025-06-02T13:00:00.000Z', 'backoff'],
      [40, {}, '2025-06-02T13:00:00.000Z', 'backoff'],
      [8, { maxIntervalMs: 10 * MINUTE }, '2025-06-02T12:10:00.000Z', 'backoff'],
    ])(
      'should back a 1-minute interval off after %i failures (%j)',
      (failures, overrides, expected, reason) => {
        const ep = endpoint({ schedule: interval(MINUTE), ...overrides });
        expect(summary(plan(now, ep, failing(failures)))).toEqual({ runAt: expected, reason });
      },
    );

    it('should skip whole cron slots', () => {
      const ep = endpoint({ schedule: cron('0 * * * *'), maxIntervalMs: 6 * HOUR });
      const h = ranAt('2025-06-02T12:00:03.000Z', '2025-06-02T12:00:00.000Z', { consecutiveFailures: 3 });
      expect(summary(plan('2025-06-02T12:00:05.000Z', ep, h))).toEqual({
        runAt: '2025-06-02T16:00:00.000Z',
        reason: 'backoff',
      });
    });

    it('should keep a daily cron daily when maxIntervalMs is 2 h', () => {
      const ep = endpoint({ schedule: cron('0 9 * * *'), maxIntervalMs: 2 * HOUR });
      const h = ranAt('2025-06-02T09:00:00.000Z', undefined, { consecutiveFailures: 5 });
      expect(summary(plan('2025-06-02T09:00:05.000Z', ep, h))).toEqual({
        runAt: '2025-06-03T09:00:00.000Z',
        reason: 'cron',
      });
    });

    it('should stretch an interval hint', () => {
      const ep = endpoint({ hints: [hint('interval', 5 * MINUTE, '2025-06-02T14:00:00.000Z')] });
      expect(summary(plan(now, ep, failing(3)))).toEqual({
        runAt: '2025-06-02T12:20:00.000Z',
        reason: 'backoff',
      });
    });

    it('should hand back to the baseline when the stretched hint run comes after the hint expires', () => {
      const ep = endpoint({ hints: [hint('interval', 5 * MINUTE, '2025-06-02T12:10:00.000Z')] });
      expect(summary(plan(now, ep, failing(3)))).toEqual({
        runAt: '2025-06-02T12:40:00.000Z',
        reason: 'backoff',
      });
    });
  });

  describe('When the target sent Retry-After', () => {
    const now = '2025-06-02T12:00:05.000Z';
    const answered = (httpStatus: number, retryAfterMs: number | null) =>
      ranAt('2025-06-02T12:00:00.000Z', undefined, {
        lastFinished: { status: 'failed', httpStatus, retryAfterMs, finishedAt: '2025-06-02T12:00:02.000Z' },
        consecutiveFailures: 1,
      });

    it.each<[number, number | null, string, string]>([
      [429, 2 * MINUTE, '2025-06-02T12:02:02.000Z', 'retry_after'],
      [503, 2 * MINUTE, '2025-06-02T12:02:02.000Z', 'retry_after'],
      [500, 2 * MINUTE, '2025-06-02T12:01:00.000Z', 'interval'],
      [429, 10_000, '2025-06-02T12:01:00.000Z', 'interval'],
      [429, null, '2025-06-02T12:01:00.000Z', 'interval'],
    ])('should, on %i with Retry-After %j ms, plan %s', (status, retryAfterMs, expected, reason) => {
      const ep = endpoint({ schedule: interval(MINUTE) });
      expect(summary(plan(now, ep, answered(status, retryAfterMs)))).toEqual({ runAt: expected, reason });
    });

    it('should move a cron to its first slot after the Retry-After', () => {
      const ep = endpoint({ schedule: cron('*/5 * * * *') });
      expect(summary(plan(now, ep, answered(429, 7 * MINUTE)))).toEqual({
        runAt: '2025-06-02T12:10:00.000Z',
        reason: 'retry_after',
      });
    });
  });

  describe('When bounds apply', () => {
    const now = '2025-06-02T12:00:01.000Z';
    const lastRun = ranAt('2025-06-02T12:00:00.000Z');

    it('should floor a short hint at minIntervalMs', () => {
      const ep = endpoint({
        minIntervalMs: 5 * MINUTE,
        hints: [hint('interval', MINUTE, '2025-06-02T14:00:00.000Z')],
      });
      expect(summary(plan(now, ep, lastRun))).toEqual({
        runAt: '2025-06-02T12:05:00.000Z',
        reason: 'min_interval',
      });
    });

    it("should measure minIntervalMs from the last run's start", () => {
      const ep = endpoint({
        minIntervalMs: 5 * MINUTE,
        hints: [hint('interval', MINUTE, '2025-06-02T14:00:00.000Z')],
      });
      const h = ranAt('2025-06-02T11:59:00.000Z', '2025-06-02T11:58:00.000Z');
      expect(plan(now, ep, h).runAt?.toISOString()).toBe('2025-06-02T12:04:00.000Z');
    });

    it('should move a cron floored by minIntervalMs to its next slot', () => {
      const ep = endpoint({ schedule: cron('*/5 * * * *'), minIntervalMs: 12 * MINUTE });
      expect(summary(plan(now, ep, lastRun))).toEqual({
        runAt: '2025-06-02T12:15:00.000Z',
        reason: 'min_interval',
      });
    });

    it.each<[string, EndpointSchedule, string, string]>([
      ['a daily cron daily', cron('0 9 * * *'), '2025-06-02T09:00:00.000Z', '2025-06-03T09:00:00.000Z'],
      ['a 3 h interval at 3 h', interval(3 * HOUR), '2025-06-02T12:00:00.000Z', '2025-06-02T15:00:00.000Z'],
    ])('should keep %s under a 2 h maxIntervalMs', (_, schedule, lastStart, expected) => {
      const ep = endpoint({ schedule, maxIntervalMs: 2 * HOUR });
      expect(plan('2025-06-02T12:00:01.000Z', ep, ranAt(lastStart)).runAt?.toISOString()).toBe(expected);
    });

    it('should not plan before startAt', () => {
      const ep = endpoint({
        schedule: once('2025-06-03T10:00:00.000Z'),
        startAt: '2025-06-03T12:00:00.000Z',
      });
      expect(summary(plan(now, ep))).toEqual({ runAt: '2025-06-03T12:00:00.000Z', reason: 'start_at' });
    });

    it.each([
      ['plan nothing past endAt', '2025-06-02T12:05:00.000Z', null, 'ended:end_at'],
      ['plan a run exactly at endAt', '2025-06-02T12:10:00.000Z', '2025-06-02T12:10:00.000Z', 'interval'],
    ])('should %s', (_, endAt, expected, reason) => {
      expect(summary(plan(now, endpoint({ endAt }), lastRun))).toEqual({ runAt: expected, reason });
    });
  });

  describe('When a stored plan was missed during downtime', () => {
    const hourly = (catchUp: GovernedEndpoint['catchUp'], overrides: Partial<GovernedEndpoint> = {}) =>
      endpoint({ schedule: cron('0 * * * *'), catchUp, ...overrides });
    const missed = { ...ranAt('2025-06-02T08:00:00.000Z'), ...pending('2025-06-02T09:00:00.000Z') };
    const iso = (dates: Date[] | undefined) => dates?.map((date) => date.toISOString());
    const skipped = (result: RunPlan) =>
      result.skipped && {
        count: result.skipped.count,
        first: result.skipped.first.toISOString(),
        last: result.skipped.last.toISOString(),
      };

    describe('and the current slot is due within the grace', () => {
      const now = '2025-06-02T12:00:30.000Z';

      it('should run once now and skip the rest (once)', () => {
        const result = plan(now, hourly('once'), missed);
        expect(summary(result)).toEqual({ runAt: now, reason: 'catch_up:once' });
        expect(result.slot?.toISOString()).toBe('2025-06-02T09:00:00.000Z');
        expect(skipped(result)).toEqual({
          count: 3,
          first: '2025-06-02T10:00:00.000Z',
          last: '2025-06-02T12:00:00.000Z',
        });
      });

      it('should skip the missed slots and run the due one (skip)', () => {
        const result = plan(now, hourly('skip'), missed);
        expect(summary(result)).toEqual({ runAt: now, reason: 'catch_up:skip' });
        expect(result.slot?.toISOString()).toBe('2025-06-02T12:00:00.000Z');
        expect(skipped(result)).toEqual({
          count: 3,
          first: '2025-06-02T09:00:00.000Z',
          last: '2025-06-02T11:00:00.000Z',
        });
      });

      it('should run every slot now (all)', () => {
        const result = plan(now, hourly('all'), missed);
        expect(summary(result)).toEqual({ runAt: now, reason: 'catch_up:all' });
        expect(iso(result.catchUpRuns)).toEqual([
          '2025-06-02T09:00:00.000Z',
          '2025-06-02T10:00:00.000Z',
          '2025-06-02T11:00:00.000Z',
          '2025-06-02T12:00:00.000Z',
        ]);
        expect(result.skipped).toBeUndefined();
      });
    });

    describe('and the next slot is in the future', () => {
      const now = '2025-06-02T12:30:00.000Z';

      it('should run once now (once)', () => {
        const result = plan(now, hourly('once'), missed);
        expect(summary(result)).toEqual({ runAt: now, reason: 'catch_up:once' });
        expect(skipped(result)).toEqual({
          count: 3,
          first: '2025-06-02T10:00:00.000Z',
          last: '2025-06-02T12:00:00.000Z',
        });
      });

      it('should wait for the next slot (skip)', () => {
        const result = plan(now, hourly('skip'), missed);
        expect(summary(result)).toEqual({ runAt: '2025-06-02T13:00:00.000Z', reason: 'catch_up:skip' });
        expect(skipped(result)).toEqual({
          count: 4,
          first: '2025-06-02T09:00:00.000Z',
          last: '2025-06-02T12:00:00.000Z',
        });
      });

      it('should find the next slot again on the following re-plan', () => {
        const after = {
          ...missed,
          skippedThrough: '2025-06-02T12:00:00.000Z',
          ...pending('2025-06-02T13:00:00.000Z'),
        };
        const result = plan('2025-06-02T12:31:00.000Z', hourly('skip'), after);
        expect(summary(result)).toEqual({ runAt: '2025-06-02T13:00:00.000Z', reason: 'cron' });
        expect(result.skipped).toBeUndefined();
      });
    });

    it.each<[string, Partial<GovernorOptions>, Partial<GovernedEndpoint>, number, number]>([
      ['at most 10 runs by default', {}, {}, 10, 21],
      ['at most maxCatchUpRuns', { maxCatchUpRuns: 3 }, {}, 3, 28],
      ['no more runs than maxRuns leaves', {}, { maxRuns: 5 }, 2, 29],
    ])('should hand out %s (all)', (_, options, overrides, runs, skippedCount) => {
      const ep = endpoint({ schedule: cron('* * * * *'), catchUp: 'all', ...overrides });
      const h = {
        ...ranAt('2025-06-02T08:59:00.000Z', undefined, { scheduledRuns: 3 }),
        ...pending('2025-06-02T09:00:00.000Z'),
      };
      const result = plan('2025-06-02T09:30:30.000Z', ep, h, options);
      expect(result.catchUpRuns).toHaveLength(runs);
      expect(result.catchUpRuns?.[0].toISOString()).toBe('2025-06-02T09:00:00.000Z');
      expect(result.skipped?.count).toBe(skippedCount);
      expect(result.skipped?.last.toISOString()).toBe('2025-06-02T09:30:00.000Z');
    });

    it('should count missed interval slots on the interval grid (skip)', () => {
      const ep = endpoint({ schedule: interval(30 * MINUTE), catchUp: 'skip' });
      const h = { ...ranAt('2025-06-02T08:00:00.000Z'), ...pending('2025-06-02T08:30:00.000Z') };
      const result = plan('2025-06-02T12:00:30.000Z', ep, h);
      expect(summary(result)).toEqual({ runAt: '2025-06-02T12:00:30.000Z', reason: 'catch_up:skip' });
      expect(result.slot?.toISOString()).toBe('2025-06-02T12:00:00.000Z');
      expect(skipped(result)).toEqual({
        count: 7,
        first: '2025-06-02T08:30:00.000Z',
        last: '2025-06-02T11:30:00.000Z',
      });
    });

    it('should hand back to the baseline when the next slot of an interval hint comes after it expires (skip)', () => {
      const ep = endpoint({
        schedule: interval(45 * MINUTE),
        catchUp: 'skip',
        hints: [hint('interval', 20 * MINUTE, '2025-06-02T12:50:00.000Z')],
      });
      const h = { ...ranAt('2025-06-02T12:00:00.000Z'), ...pending('2025-06-02T12:20:00.000Z') };
      const result = plan('2025-06-02T12:45:30.000Z', ep, h);
      expect(summary(result)).toEqual({ runAt: '2025-06-02T12:50:00.000Z', reason: 'interval' });
      expect(result.skipped).toBeUndefined();
    });

    it('should skip a missed one-time run for good (skip)', () => {
      const ep = endpoint({ schedule: once('2025-06-02T09:00:00.000Z'), catchUp: 'skip' });
      const result = plan('2025-06-02T12:00:00.000Z', ep, history(pending('2025-06-02T09:00:00.000Z')));
      expect(summary(result)).toEqual({ runAt: null, reason: 'catch_up:skip' });
      expect(skipped(result)).toEqual({
        count: 1,
        first: '2025-06-02T09:00:00.000Z',
        last: '2025-06-02T09:00:00.000Z',
      });
    });

    it('should run a late plan within the grace as usual', () => {
      const result = plan('2025-06-02T09:00:30.000Z', hourly('skip'), missed);
      expect(summary(result)).toEqual({ runAt: '2025-06-02T09:00:30.000Z', reason: 'cron' });
      expect(result.skipped).toBeUndefined();
    });

    it('should simply run an overdue interval now when no stored plan was missed', () => {
      const result = plan(
        '2025-06-02T12:00:30.000Z',
        endpoint({ schedule: interval(30 * MINUTE), catchUp: 'skip' }),
        ranAt('2025-06-02T08:00:00.000Z'),
      );
      expect(summary(result)).toEqual({ runAt: '2025-06-02T12:00:30.000Z', reason: 'interval' });
      expect(result.skipped).toBeUndefined();
    });

    it('should not catch up across a pause', () => {
      const ep = hourly('all', { status: { kind: 'paused', until: '2025-06-02T14:00:00.000Z' } });
      const result = plan('2025-06-02T12:00:30.000Z', ep, missed);
      expect(summary(result)).toEqual({ runAt: '2025-06-02T14:00:00.000Z', reason: 'paused_until' });
      expect(result.skipped).toBeUndefined();
      expect(result.catchUpRuns).toBeUndefined();
    });
  });

  describe('When jitter is configured', () => {
    const now = '2025-06-02T12:10:00.000Z';
    const jittered = (endpointId: string, overrides: Partial<GovernedEndpoint> = {}) =>
      endpoint({ endpointId, schedule: cron('0 * * * *'), jitterMs: MINUTE, ...overrides });

    it('should spread endpoints within the window, never before the slot', () => {
      const offsets = Array.from({ length: 100 }, (_, i) => plan(now, jittered(`ep-${i}`))).map(
        (result) => result.runAt!.getTime() - Date.parse('2025-06-02T13:00:00.000Z'),
      );
      expect(Math.min(...offsets)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...offsets)).toBeLessThanOrEqual(MINUTE);
      expect(new Set(offsets).size).toBeGreaterThan(50);
    });

    it('should give the same run time for the same endpoint and slot', () => {
      const first = plan(now, jittered('ep-a'));
      const again = plan('2025-06-02T12:40:00.000Z', jittered('ep-a'));
      expect(again.runAt).toEqual(first.runAt);
      expect(first.inputs).toMatchObject({ jitterMs: MINUTE });
    });

    it('should recognise its stored plan as due when it comes due', () => {
      const stored = plan(now, jittered('ep-a'));
      const dueAt = new Date(stored.runAt!.getTime() + 100).toISOString();
      const h = pending(stored.runAt!.toISOString(), stored.slot!.toISOString());
      const due = plan(dueAt, jittered('ep-a'), history(h));
      expect(due.slot).toEqual(stored.slot);
      expect(due.runAt?.toISOString()).toBe(dueAt);
    });

    it('should never break minIntervalMs', () => {
      const ep = endpoint({ schedule: interval(MINUTE), minIntervalMs: 5 * MINUTE, jitterMs: 30_000 });
      const runAt = plan('2025-06-02T12:00:01.000Z', ep, ranAt('2025-06-02T12:00:00.000Z')).runAt!.getTime();
      expect(runAt).toBeGreaterThanOrEqual(Date.parse('2025-06-02T12:05:00.000Z'));
      expect(runAt).toBeLessThanOrEqual(Date.parse('2025-06-02T12:05:30.000Z'));
    });

    it('should stay within endAt', () => {
      const ep = jittered('ep-a', { endAt: '2025-06-02T13:00:00.000Z', jitterMs: 10 * MINUTE });
      expect(plan(now, ep).runAt?.toISOString()).toBe('2025-06-02T13:00:00.000Z');
    });
  });

  describe('When failures reach pauseAfterFailures', () => {
    const now = '2025-06-02T12:00:01.000Z';
    it.each<[number | null, number, boolean]>([
      [5, 5, true],
      [5, 4, false],
      [null, 100, false],
    ])('should (limit %j, %i failures) signal a pause: %j', (pauseAfterFailures, failures, signalled) => {
      const result = plan(
        now,
        endpoint({ pauseAfterFailures }),
        ranAt('2025-06-02T12:00:00.000Z', undefined, { consecutiveFailures: failures }),
      );
      expect(result.pauseForFailures === true).toBe(signalled);
      expect(result.runAt === null).toBe(signalled);
      if (signalled) expect(result.reason).toBe('pause_after_failures');
    });
  });

  describe('When a number leads past the last instant a date can hold (year 275760)', () => {
    const now = '2025-06-02T12:00:01.000Z';
    const lastRun = ranAt('2025-06-02T12:00:00.000Z');
    const throttled = ranAt('2025-06-02T12:00:00.000Z', undefined, {
      lastFinished: { status: 'failed', httpStatus: 429, retryAfterMs: 1e23, finishedAt: now },
    });
    it.each<[string, Partial<GovernedEndpoint>, RunHistory]>([
      ['a huge interval', { schedule: interval(1e16) }, lastRun],
      ['a huge interval with jitter', { schedule: interval(1e16), jitterMs: MINUTE }, lastRun],
      ['a huge minIntervalMs', { minIntervalMs: 1e16 }, lastRun],
      ['a huge minIntervalMs on a cron', { schedule: cron('0 * * * *'), minIntervalMs: 1e16 }, lastRun],
      ['a huge Retry-After', {}, throttled],
      [
        'a cron past its last fire time',
        { schedule: cron('0 0 * * *'), startAt: '+275760-09-12T12:00:00.000Z' },
        history(),
      ],
    ])('should plan nothing, not throw, for %s', (_, ep, h) => {
      expect(summary(plan(now, endpoint(ep), h))).toEqual({ runAt: null, reason: 'invalid_schedule' });
    });

    it('should plan nothing, not throw, for a catch-up at the end of the range', () => {
      const ep = endpoint({ schedule: cron('0 0 1 * *'), catchUp: 'skip' });
      const h = { ...ranAt('+275759-01-01T00:00:00.000Z'), ...pending('+275759-02-01T00:00:00.000Z') };
      expect(summary(plan('+275760-09-10T00:00:00.000Z', ep, h))).toEqual({
        runAt: null,
        reason: 'invalid_schedule',
      });
    });

    it('should keep a jittered run within the range', () => {
      const ep = endpoint({
        schedule: once('+275760-09-12T23:59:00.000Z'),
        jitterMs: 1e10,
        endpointId: 'ep-max',
      });
      expect(plan(now, ep).runAt?.toISOString()).toBe('+275760-09-13T00:00:00.000Z');
    });
  });

  describe('When a planned run comes due', () => {
    const now = new Date('2025-06-02T12:00:00.000Z');
    it.each<[string, Date | null, 'skip' | 'queue_one', boolean, boolean, ReturnType<typeof decideDue>]>([
      [
        'wait for a future run',
        new Date('2025-06-02T12:00:01.000Z'),
        'skip',
        false,
        false,
        { action: 'wait' },
      ],
      ['wait when nothing is planned', null, 'skip', false, false, { action: 'wait' }],
      ['dispatch when nothing is in flight', now, 'skip', false, false, { action: 'dispatch' }],
      [
        'skip while a run is in flight (skip)',
        now,
        'skip',
        true,
        false,
        { action: 'skip', reason: 'overlap:in_flight' },
      ],
      ['queue one while a run is in flight (queue_one)', now, 'queue_one', true, false, { action: 'queue' }],
      [
        'skip when one is queued already (queue_one)',
        now,
        'queue_one',
        true,
        true,
        { action: 'skip', reason: 'overlap:queue_full' },
      ],
    ])('should %s', (_, runAt, overlap, inFlight, queued, expected) => {
      expect(decideDue(now, { runAt }, { overlap }, { inFlight, queued })).toEqual(expected);
    });
  });
});
