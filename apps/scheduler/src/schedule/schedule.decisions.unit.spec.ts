import { EndpointConfig, NextRunPlanned, RunSkipped, ScheduleEvent } from '@cronicorn/events';
import { endpointConfigWithDefaults } from '@cronicorn/domain';
import {
  dropQueuedRuns,
  fire,
  FireResult,
  Outcome,
  PlanContext,
  replan,
  requestRun,
} from './schedule.decisions';
import { applyRunStarted, createdRow, EndpointRow, JobRow, OpenRuns, StoredPlan } from './schedule.model';

// Fixed instants throughout: the decisions never read the clock.

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const iso = (ms: number) => at(ms).toISOString();
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

function endpoint(config: Partial<EndpointConfig> = {}, overrides: Partial<EndpointRow> = {}): EndpointRow {
  const full = endpointConfigWithDefaults({
    name: 'ping',
    url: 'https://example.com/ping',
    schedule: { kind: 'interval', intervalMs: MINUTE },
    secretHeaders: { authorization: 'enc:v1:ciphertext' },
    ...config,
  });
  return {
    ...createdRow('tenant-1', { endpointId: 'ep-1', jobId: 'job-1', config: full, createdAt: iso(0) }),
    ...overrides,
  };
}

const plan = (runAtMs: number, runId = 'run-planned', slotMs = runAtMs, reason = 'interval'): StoredPlan => ({
  runId,
  runAt: iso(runAtMs),
  slot: iso(slotMs),
  reason,
  plannedAt: iso(0),
});

const started = (ms: number, runId = 'run-0') => ({ runId, scheduledFor: iso(ms), startedAt: iso(ms) });

function context(nowMs: number, open: Partial<OpenRuns> = {}, job: JobRow | null = null): PlanContext {
  let n = 0;
  return {
    now: at(nowMs),
    job,
    open: { inFlight: false, queued: false, ...open },
    newId: () => `run-new-${++n}`,
  };
}

const planned = (events: readonly ScheduleEvent[]) =>
  events.filter((e): e is NextRunPlanned => e.type === 'NextRunPlanned').map((e) => e.data);
const skipped = (events: readonly ScheduleEvent[]) =>
  events.filter((e): e is RunSkipped => e.type === 'RunSkipped').map((e) => e.data);

function fired(result: FireResult): Outcome & { decision: string } {
  if (result.kind !== 'fired') throw new Error(`expected a fired result, got ${result.kind}`);
  return result;
}

describe('Scheduler decisions', () => {
  describe('When an input changes', () => {
    it('should plan a new endpoint and record why', () => {
      const outcome = replan(context(5 * SECOND), endpoint());
      expect(outcome.planChanged).toBe(true);
      expect(outcome.row.plan).toEqual({
        runId: 'run-new-1',
        runAt: iso(5 * SECOND),
        slot: iso(0),
        reason: 'interval',
        plannedAt: iso(5 * SECOND),
      });
      expect(planned(outcome.events)).toEqual([
        expect.objectContaining({
          endpointId: 'ep-1',
          jobId: 'job-1',
          runId: 'run-new-1',
          reason: 'interval',
        }),
      ]);
    });

    it('should not plan again when nothing changed, even while the plan is due', () => {
      const first = replan(context(5 * SECOND), endpoint());
      const again = replan(context(6 * SECOND), first.row);
      expect(again.planChanged).toBe(false);
      expect(again.events).toEqual([]);
    });

    it('should postpone the pending run when a hint lengthens the interval', () => {
      const row = endpoint({}, { lastRun: started(0), plan: plan(MINUTE, 'run-1') });
      const hinted = replan(context(10 * SECOND), {
        ...row,
        hints: [
          {
            hintId: 'h1',
            kind: 'interval',
            value: 10 * MINUTE,
            expiresAt: iso(60 * MINUTE),
            proposedAt: iso(0),
          },
        ],
      });
      expect(hinted.row.plan).toMatchObject({ runAt: iso(10 * MINUTE), reason: 'hint:interval' });
      expect(hinted.row.plan?.runId).not.toBe('run-1');
      expect(planned(hinted.events)).toHaveLength(1);
    });

    it('should keep the run id when only the time of the same slot moves', () => {
      const row = endpoint({ minIntervalMs: null }, { lastRun: started(0), plan: plan(MINUTE, 'run-1') });
      const jittered = replan(context(10 * SECOND), {
        ...row,
        config: { ...row.config, jitterMs: 5 * SECOND },
      });
      expect(jittered.row.plan?.runId).toBe('run-1');
      expect(jittered.row.plan?.slot).toBe(iso(MINUTE));
    });

    it('should forget the plan of a paused endpoint without an event', () => {
      const row = endpoint(
        {},
        { lastRun: started(0), plan: plan(MINUTE), status: 'paused', pausedUntil: null },
      );
      const outcome = replan(context(10 * SECOND), row);
      expect(outcome.row.plan).toBeNull();
      expect(outcome.planChanged).toBe(true);
      expect(outcome.events).toEqual([]);
    });

    it('should plan every endpoint of a paused job after the pause', () => {
      const job: JobRow = {
        jobId: 'job-1',
        tenantId: 'tenant-1',
        status: 'paused',
        pausedUntil: iso(30 * MINUTE),
      };
      const outcome = replan(context(10 * SECOND, {}, job), endpoint({}, { lastRun: started(0) }));
      expect(outcome.row.plan).toMatchObject({ runAt: iso(30 * MINUTE), reason: 'job_paused_until' });
    });

    it('should ask for the pause when pauseAfterFailures is reached', () => {
      const row = endpoint(
        { pauseAfterFailures: 3 },
        { lastRun: started(0), streak: { count: 3, since: null, lastFailureAt: iso(1) } },
      );
      const outcome = replan(context(10 * SECOND), row);
      expect(outcome.pauseForFailures).toBe(true);
      expect(outcome.row.plan).toBeNull();
    });

    it('should plan the first run after a pause until a time when pauseAfterFailures is reached during it', () => {
      const row = endpoint(
        { pauseAfterFailures: 3 },
        {
          lastRun: started(0),
          streak: { count: 3, since: null, lastFailureAt: iso(1) },
          status: 'paused',
          pausedUntil: iso(30 * MINUTE),
        },
      );
      const outcome = replan(context(10 * SECOND), row);
      expect(outcome.pauseForFailures).toBe(false);
      expect(outcome.row.plan).toMatchObject({ runAt: iso(30 * MINUTE), reason: 'paused_until' });

      const due = fired(fire(context(30 * MINUTE), outcome.row, outcome.row.plan!.runId));
      expect(due.handOuts).toEqual([]);
      expect(due.pauseForFailures).toBe(true);
    });

    it.each([
      ['paused', { status: 'paused', pausedUntil: null }, null],
      ['archived', { status: 'archived' }, null],
      ['job_paused', {}, { jobId: 'job-1', tenantId: 'tenant-1', status: 'paused', pausedUntil: iso(HOUR) }],
    ] as const)(
      'should drop the run queue_one holds back when the endpoint stops (%s)',
      (reason, stop, job) => {
        const row = endpoint({ overlap: 'queue_one' }, { lastRun: started(0), scheduledRuns: 2, ...stop });
        const outcome = replan(context(10 * SECOND, { inFlight: true, queued: true }, job), row);
        expect(outcome.dropQueued).toBe(reason);

        const dropped = dropQueuedRuns(
          outcome,
          [{ runId: 'run-queued', scheduledFor: iso(0) }],
          at(10 * SECOND),
        );
        expect(dropped.row.scheduledRuns).toBe(1);
        expect(skipped(dropped.events)).toEqual([
          expect.objectContaining({
            runId: 'run-queued',
            policy: 'paused',
            reason: `queued:${reason}`,
            count: 1,
          }),
        ]);
      },
    );

    it('should keep the queued run of an endpoint that still runs', () => {
      const row = endpoint({ overlap: 'queue_one' }, { lastRun: started(0), scheduledRuns: 2 });
      expect(replan(context(10 * SECOND, { inFlight: true, queued: true }), row).dropQueued).toBeNull();
    });

    it('should leave an overdue plan to the due loop rather than decide its catch-up', () => {
      const row = endpoint({}, { lastRun: started(0), plan: plan(MINUTE, 'run-1') });
      const outcome = replan(context(30 * MINUTE), row);
      expect(outcome.planChanged).toBe(false);
      expect(outcome.row.plan?.runId).toBe('run-1');
    });
  });

  describe('When the stored plan comes due', () => {
    const due = endpoint({}, { lastRun: started(0), scheduledRuns: 1, plan: plan(MINUTE, 'run-1') });

    it('should hand the run out for its planned time and plan the next one', () => {
      const outcome = fired(fire(context(MINUTE + 3), due, 'run-1'));
      expect(outcome.decision).toBe('dispatch');
      expect(outcome.handOuts).toEqual([
        expect.objectContaining({
          runId: 'run-1',
          trigger: 'schedule',
          state: 'dispatched',
          scheduledFor: iso(MINUTE),
        }),
      ]);
      expect(outcome.handOuts[0].workItem).toEqual({
        runId: 'run-1',
        tenantId: 'tenant-1',
        jobId: 'job-1',
        endpointId: 'ep-1',
        scheduledFor: iso(MINUTE),
        trigger: 'schedule',
        retryOf: null,
        correlationId: 'run-1',
        request: {
          url: 'https://example.com/ping',
          method: 'GET',
          headers: {},
          secretHeaders: { authorization: 'enc:v1:ciphertext' },
          body: null,
          timeoutMs: 30_000,
          maxAttempts: 1,
        },
        templateContext: null,
      });
      expect(outcome.row.scheduledRuns).toBe(2);
      // Handed out is started, for the schedule: the interval counts from now.
      expect(outcome.row.lastRun).toEqual({
        runId: 'run-1',
        scheduledFor: iso(MINUTE + 3),
        startedAt: iso(MINUTE + 3),
      });
      expect(outcome.row.plan).toMatchObject({ runId: 'run-new-1', runAt: iso(2 * MINUTE + 3) });
      expect(planned(outcome.events)).toHaveLength(1);
    });

    it('should keep the next plan when the dispatcher reports the start a little later', () => {
      const outcome = fired(fire(context(MINUTE + 3), due, 'run-1'));
      const startedLater = applyRunStarted(outcome.row, {
        runId: 'run-1',
        scheduledFor: iso(MINUTE),
        startedAt: iso(MINUTE + 45),
      });
      const again = replan(context(MINUTE + 50, { inFlight: true }), startedLater);
      expect(again.planChanged).toBe(false);
      expect(again.events).toEqual([]);
      expect(again.row.plan).toEqual(outcome.row.plan);
    });

    it('should never hand a run out before its time', () => {
      expect(fire(context(MINUTE - 1), due, 'run-1')).toEqual({ kind: 'early', runAt: at(MINUTE) });
    });

    it('should drop a claim whose plan has changed since', () => {
      expect(fire(context(MINUTE), due, 'run-other')).toEqual({ kind: 'stale' });
      expect(fire(context(MINUTE), { ...due, plan: null }, 'run-1')).toEqual({ kind: 'stale' });
    });

    it('should skip the run while the previous one is in flight (overlap skip)', () => {
      const outcome = fired(fire(context(MINUTE), due, 'run-1'));
      const busy = fired(fire(context(MINUTE, { inFlight: true }), due, 'run-1'));
      expect(outcome.decision).toBe('dispatch');
      expect(busy.decision).toBe('skip');
      expect(busy.handOuts).toEqual([]);
      expect(skipped(busy.events)).toEqual([
        expect.objectContaining({ runId: 'run-1', policy: 'overlap', reason: 'overlap:in_flight', count: 1 }),
      ]);
      expect(busy.row.skippedThrough).toBe(iso(MINUTE));
      expect(busy.row.plan).toMatchObject({ runAt: iso(2 * MINUTE) });
    });

    it('should hold one run back with queue_one, and skip the next while one is held', () => {
      const queueOne = { ...due, config: { ...due.config, overlap: 'queue_one' as const } };
      const queued = fired(fire(context(MINUTE, { inFlight: true }), queueOne, 'run-1'));
      expect(queued.decision).toBe('queue');
      expect(queued.handOuts).toEqual([expect.objectContaining({ runId: 'run-1', state: 'queued' })]);
      const full = fired(fire(context(MINUTE, { inFlight: true, queued: true }), queueOne, 'run-1'));
      expect(skipped(full.events)).toEqual([expect.objectContaining({ reason: 'overlap:queue_full' })]);
    });

    it('should run once after downtime and record the missed slots as skipped (catch-up once)', () => {
      const outcome = fired(fire(context(10 * MINUTE + 30 * SECOND), due, 'run-1'));
      expect(outcome.handOuts).toEqual([
        expect.objectContaining({ runId: 'run-1', scheduledFor: iso(MINUTE), state: 'dispatched' }),
      ]);
      expect(skipped(outcome.events)).toEqual([
        expect.objectContaining({
          runId: null,
          policy: 'catch_up',
          reason: 'catch_up:once',
          scheduledFor: iso(2 * MINUTE),
        }),
      ]);
      expect(skipped(outcome.events)[0].count).toBeGreaterThanOrEqual(8);
      expect(Date.parse(outcome.row.plan!.runAt)).toBeGreaterThan(T0 + 10 * MINUTE);
    });

    it('should hand out one run per missed slot, bounded, with catch-up all', () => {
      const all = { ...due, config: { ...due.config, catchUp: 'all' as const } };
      const outcome = fired(fire(context(5 * MINUTE + 30 * SECOND), all, 'run-1'));
      expect(outcome.handOuts.map((h) => h.scheduledFor)).toEqual([
        iso(MINUTE),
        iso(2 * MINUTE),
        iso(3 * MINUTE),
        iso(4 * MINUTE),
        iso(5 * MINUTE),
      ]);
      expect(outcome.handOuts[0].runId).toBe('run-1');
      expect(new Set(outcome.handOuts.map((h) => h.runId)).size).toBe(5);
      expect(outcome.row.scheduledRuns).toBe(6);
    });

    it('should store a plan that moved into the future, without handing anything out', () => {
      const paused = { ...due, status: 'paused' as const, pausedUntil: iso(30 * MINUTE) };
      const outcome = fired(fire(context(MINUTE), paused, 'run-1'));
      expect(outcome.decision).toBe('wait');
      expect(outcome.handOuts).toEqual([]);
      expect(outcome.row.plan).toMatchObject({ runAt: iso(30 * MINUTE), reason: 'paused_until' });
    });

    it('should hand out a run planned at endAt though the fire comes a little later', () => {
      const ending = endpoint(
        { endAt: iso(MINUTE) },
        { lastRun: started(0), scheduledRuns: 1, plan: plan(MINUTE, 'run-1') },
      );
      const outcome = fired(fire(context(MINUTE + 5), ending, 'run-1'));
      expect(outcome.decision).toBe('dispatch');
      expect(outcome.row.plan).toBeNull();
      expect(fired(fire(context(MINUTE + 2 * MINUTE), ending, 'run-1')).handOuts).toEqual([]);
    });

    it('should hand a one-time run out once', () => {
      const once = endpoint(
        { schedule: { kind: 'once', runAt: iso(MINUTE) } },
        { plan: plan(MINUTE, 'run-1', MINUTE, 'once') },
      );
      const outcome = fired(fire(context(MINUTE), once, 'run-1'));
      expect(outcome.handOuts).toHaveLength(1);
      expect(outcome.row.plan).toBeNull();
    });
  });

  describe('When an endpoint that ran is changed to a one-time run', () => {
    it('should plan the one-time run, and not again once it ran', () => {
      const changed = endpoint(
        { schedule: { kind: 'once', runAt: iso(10 * MINUTE) } },
        { lastRun: started(MINUTE), scheduledRuns: 5 },
      );
      const outcome = replan(context(2 * MINUTE), changed);
      expect(outcome.row.plan).toMatchObject({ runAt: iso(10 * MINUTE), reason: 'once' });

      const ran = fired(fire(context(10 * MINUTE), outcome.row, outcome.row.plan!.runId));
      expect(ran.handOuts).toHaveLength(1);
      expect(ran.row.plan).toBeNull();
    });
  });

  describe('When a run is requested', () => {
    it('should hand it out at once, even while another run is in flight, with its trigger payload', () => {
      const row = endpoint({}, { lastRun: started(0), plan: plan(MINUTE, 'run-1') });
      const outcome = requestRun(
        context(20 * SECOND, { inFlight: true }),
        row,
        {
          endpointId: 'ep-1',
          runId: 'run-manual',
          source: 'trigger',
          trigger: { name: 'deploy', payload: { sha: 'abc' } },
          retryOf: null,
          requestedAt: iso(20 * SECOND),
        },
        'corr-1',
      );
      expect(outcome.handOuts).toEqual([
        expect.objectContaining({ runId: 'run-manual', trigger: 'trigger', state: 'dispatched' }),
      ]);
      expect(outcome.handOuts[0].workItem).toMatchObject({
        correlationId: 'corr-1',
        scheduledFor: iso(20 * SECOND),
        templateContext: { trigger: { name: 'deploy', payload: { sha: 'abc' } } },
      });
      expect(outcome.row.lastRun).toEqual({
        runId: 'run-manual',
        scheduledFor: iso(20 * SECOND),
        startedAt: iso(20 * SECOND),
      });
      expect(outcome.row.plan).toMatchObject({ runAt: iso(80 * SECOND) });
    });

    it("should give the body template the trigger and the latest finished run's response", () => {
      const row = endpoint(
        {},
        {
          lastRun: started(0),
          lastFinished: {
            status: 'success',
            httpStatus: 200,
            retryAfterMs: null,
            finishedAt: iso(SECOND),
            response: {
              snippet: '{\n  "cursor": "c-41"\n}',
              bytes: 16,
              truncated: false,
              contentType: 'application/json',
            },
          },
        },
      );
      const request = {
        endpointId: 'ep-1',
        runId: 'run-retry',
        source: 'retry' as const,
        trigger: { name: 'deploy', payload: { sha: 'abc' } },
        retryOf: 'run-0',
        requestedAt: iso(20 * SECOND),
      };
      const outcome = requestRun(context(20 * SECOND), row, request, null);
      expect(outcome.handOuts[0].workItem).toMatchObject({ trigger: 'retry', retryOf: 'run-0' });
      expect(outcome.handOuts[0].workItem.templateContext).toEqual({
        trigger: { name: 'deploy', payload: { sha: 'abc' } },
        previousRun: {
          status: 'success',
          httpStatus: 200,
          finishedAt: iso(SECOND),
          response: { snippet: '{\n  "cursor": "c-41"\n}', json: { cursor: 'c-41' } },
        },
      });
    });

    it('should give a manual run an empty context when nothing ran yet, and raw text for a non-JSON response', () => {
      const manual = {
        endpointId: 'ep-1',
        runId: 'run-manual',
        source: 'manual' as const,
        trigger: null,
        retryOf: null,
        requestedAt: iso(0),
      };
      const fresh = requestRun(context(0), endpoint(), manual, null);
      expect(fresh.handOuts[0].workItem.templateContext).toEqual({ trigger: null, previousRun: null });

      const text = endpoint(
        {},
        {
          lastFinished: {
            status: 'failed',
            httpStatus: 502,
            retryAfterMs: null,
            finishedAt: iso(0),
            response: { snippet: 'Bad gateway', bytes: 11, truncated: false, contentType: 'text/plain' },
          },
        },
      );
      const outcome = requestRun(context(SECOND), text, manual, null);
      expect(outcome.handOuts[0].workItem.templateContext).toMatchObject({
        previousRun: { status: 'failed', httpStatus: 502, response: { snippet: 'Bad gateway', json: null } },
      });
    });

    it('should hand a retry out beside the schedule: an interval keeps counting from the last scheduled run', () => {
      const row = endpoint({}, { lastRun: started(0), plan: plan(MINUTE, 'run-1') });
      const retry = {
        endpointId: 'ep-1',
        runId: 'run-retry',
        source: 'retry' as const,
        trigger: null,
        retryOf: 'run-0',
        requestedAt: iso(20 * SECOND),
      };
      const outcome = requestRun(context(20 * SECOND), row, retry, null);
      expect(outcome.handOuts).toEqual([expect.objectContaining({ runId: 'run-retry', trigger: 'retry' })]);
      expect(outcome.row.lastRun).toEqual(row.lastRun);
      expect(outcome.row.plan).toEqual(row.plan);
      expect(outcome.planChanged).toBe(false);

      const manual = requestRun(
        context(20 * SECOND),
        row,
        { ...retry, source: 'manual', retryOf: null },
        null,
      );
      expect(manual.row.plan).toMatchObject({ runAt: iso(80 * SECOND) });
    });

    it('should hand nothing out for an archived endpoint', () => {
      const archived = endpoint({}, { status: 'archived' });
      const outcome = requestRun(
        context(0),
        archived,
        {
          endpointId: 'ep-1',
          runId: 'r',
          source: 'manual',
          trigger: null,
          retryOf: null,
          requestedAt: iso(0),
        },
        null,
      );
      expect(outcome.handOuts).toEqual([]);
    });
  });
});
