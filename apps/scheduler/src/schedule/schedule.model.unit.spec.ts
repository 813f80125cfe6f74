import { EndpointConfig } from '@cronicorn/events';
import { endpointConfigWithDefaults } from '@cronicorn/domain';
import {
  applyEndpointEvent,
  applyJobEvent,
  applyRunFinished,
  applyRunStarted,
  clearStreak,
  createdRow,
  EndpointRow,
  finishLeavesPlan,
  governedEndpoint,
  NO_STREAK,
  recordFinish,
  runHistory,
} from './schedule.model';
import { replan } from './schedule.decisions';

const at = (second: number) => new Date(Date.UTC(2025, 5, 1, 0, 0, second)).toISOString();

const config: EndpointConfig = endpointConfigWithDefaults({
  name: 'ping',
  url: 'https://example.com/ping',
  schedule: { kind: 'interval', intervalMs: 60_000 },
});

const row = (overrides: Partial<EndpointRow> = {}): EndpointRow => ({
  ...createdRow('tenant-1', { endpointId: 'ep-1', jobId: 'job-1', config, createdAt: at(0) }),
  ...overrides,
});

const finished = (runId: string, status: 'success' | 'failed', finishedAt: string, httpStatus = 200) => ({
  runId,
  endpointId: 'ep-1',
  jobId: 'job-1',
  status,
  httpStatus,
  durationMs: 10,
  attempts: 1,
  error: null,
  response: null,
  retryAfterMs: null,
  scheduledFor: at(0),
  startedAt: at(0),
  finishedAt,
  trigger: 'schedule' as const,
  retryOf: null,
});

describe('Schedule row', () => {
  describe('When folding the failure streak', () => {
    it('should count failures in a row and clear them on a success', () => {
      let streak = recordFinish(NO_STREAK, 'failed', at(1));
      streak = recordFinish(streak, 'timeout', at(2));
      expect(streak.count).toBe(2);
      streak = recordFinish(streak, 'success', at(3));
      expect(streak).toEqual({ count: 0, since: at(3), lastFailureAt: null });
    });

    it('should ignore a failure that finished before the streak was cleared', () => {
      const streak = recordFinish(clearStreak(NO_STREAK, at(10)), 'failed', at(5));
      expect(streak.count).toBe(0);
    });

    it('should keep a failure newer than a success folded after it', () => {
      let streak = recordFinish(NO_STREAK, 'failed', at(1));
      streak = recordFinish(streak, 'failed', at(9));
      streak = recordFinish(streak, 'success', at(5));
      expect(streak).toEqual({ count: 1, since: at(5), lastFailureAt: at(9) });
    });

    it('should not move back when an older reset arrives late', () => {
      const streak = recordFinish(clearStreak(NO_STREAK, at(10)), 'failed', at(11));
      expect(clearStreak(streak, at(4))).toBe(streak);
    });
  });

  describe('When folding endpoint events', () => {
    it('should keep the newest hint of each kind and forget them all when cleared', () => {
      const hint = (hintId: string, kind: 'interval' | 'pause', value: number | string) =>
        ({
          type: 'AIHintProposed',
          data: {
            endpointId: 'ep-1',
            hintId,
            kind,
            value,
            requested: null,
            expiresAt: at(600),
            reason: 'test',
            source: 'api',
            model: null,
            proposedAt: at(1),
          },
        }) as const;
      let next = applyEndpointEvent(row(), hint('h1', 'interval', 10_000));
      next = applyEndpointEvent(next, hint('h2', 'pause', at(300)));
      next = applyEndpointEvent(next, hint('h3', 'interval', 20_000));
      expect(next.hints.map((h) => [h.hintId, h.kind, h.value])).toEqual([
        ['h2', 'pause', at(300)],
        ['h3', 'interval', 20_000],
      ]);
      const cleared = applyEndpointEvent(next, {
        type: 'AIHintsCleared',
        data: { endpointId: 'ep-1', reason: 'done', source: 'api', clearedAt: at(2) },
      });
      expect(cleared.hints).toEqual([]);
    });

    it('should start a new failure streak when resumed', () => {
      const paused = applyEndpointEvent(row({ streak: { count: 5, since: null, lastFailureAt: at(5) } }), {
        type: 'EndpointPaused',
        data: { endpointId: 'ep-1', until: null, reason: 'failures', by: 'failures', pausedAt: at(6) },
      });
      expect(governedEndpoint(paused, null).status).toEqual({ kind: 'paused', until: null });
      const resumed = applyEndpointEvent(paused, {
        type: 'EndpointResumed',
        data: { endpointId: 'ep-1', resumedAt: at(7) },
      });
      expect(resumed.status).toBe('active');
      expect(resumed.streak.count).toBe(0);
    });

    it('should never leave the archived state', () => {
      const archived = applyEndpointEvent(row(), {
        type: 'EndpointArchived',
        data: { endpointId: 'ep-1', archivedAt: at(1) },
      });
      const paused = applyEndpointEvent(archived, {
        type: 'EndpointPaused',
        data: { endpointId: 'ep-1', until: null, reason: null, by: 'user', pausedAt: at(2) },
      });
      expect(paused.status).toBe('archived');
    });
  });

  describe('When folding job events', () => {
    it('should create an active job on first sight and follow pauses', () => {
      const paused = applyJobEvent(
        null,
        { type: 'JobPaused', data: { jobId: 'job-1', until: at(100), reason: null, pausedAt: at(1) } },
        'tenant-1',
      );
      expect(paused).toEqual({
        jobId: 'job-1',
        tenantId: 'tenant-1',
        status: 'paused',
        pausedUntil: at(100),
      });
      const resumed = applyJobEvent(
        paused,
        { type: 'JobResumed', data: { jobId: 'job-1', resumedAt: at(2) } },
        't',
      );
      expect(resumed.status).toBe('active');
      expect(governedEndpoint(row(), paused).job).toEqual({ kind: 'paused', until: at(100) });
    });
  });

  describe('When folding run events', () => {
    const handedOut = row({ lastRun: { runId: 'r2', scheduledFor: at(60), startedAt: null } });

    it('should take the start of the latest run only', () => {
      const older = { runId: 'r1', scheduledFor: at(30), startedAt: at(61) };
      expect(applyRunStarted(handedOut, older).lastRun).toEqual(handedOut.lastRun);
      const latest = applyRunStarted(handedOut, { runId: 'r2', scheduledFor: at(60), startedAt: at(61) });
      expect(latest.lastRun).toEqual({ runId: 'r2', scheduledFor: at(60), startedAt: at(61) });
      expect(applyRunStarted(latest, { runId: 'r2', scheduledFor: at(60), startedAt: at(65) })).toBe(latest);
    });

    it('should not take a retry for the latest run', () => {
      const retry = { runId: 'r9', scheduledFor: at(120), startedAt: at(121), trigger: 'retry' as const };
      expect(applyRunStarted(handedOut, retry)).toBe(handedOut);
    });

    it('should learn of a run newer than the one it knows', () => {
      const newer = { runId: 'r3', scheduledFor: at(120), startedAt: at(121) };
      expect(applyRunStarted(handedOut, newer).lastRun).toEqual(newer);
      expect(applyRunStarted(row(), newer).lastRun).toEqual(newer);
    });

    it('should keep the newest finished run and count its failure', () => {
      const once = applyRunFinished(handedOut, finished('r2', 'failed', at(62), 503));
      const older = applyRunFinished(once, finished('r1', 'success', at(30)));
      expect(once.lastFinished).toMatchObject({ status: 'failed', httpStatus: 503, finishedAt: at(62) });
      expect(once.lastRun?.startedAt).toBe(at(0));
      expect(older.lastFinished?.finishedAt).toBe(at(62));
      expect(runHistory(older, { inFlight: false, queued: false }).consecutiveFailures).toBe(1);
    });

    describe('When a run finishes', () => {
      const started = row({
        lastRun: { runId: 'r2', scheduledFor: at(60), startedAt: at(60) },
        lastFinished: {
          status: 'success',
          httpStatus: 200,
          retryAfterMs: null,
          finishedAt: at(1),
          response: null,
        },
        streak: { count: 0, since: at(1), lastFailureAt: null },
      });
      const success = finished('r2', 'success', at(62));

      it.each([
        ['a success after a success', started, success, true],
        ['a failure', started, finished('r2', 'failed', at(62), 500), false],
        [
          'a success while a failure is counted',
          row({ ...started, streak: { count: 1, since: at(1), lastFailureAt: at(2) } }),
          success,
          false,
        ],
        [
          'a success after a Retry-After',
          row({
            ...started,
            lastFinished: { ...started.lastFinished!, httpStatus: 429, retryAfterMs: 30_000 },
          }),
          success,
          false,
        ],
        ['a success of a run whose start the row lacks', handedOut, success, false],
      ])('should say whether %s leaves the plan without a lock', (_, before, data, expected) => {
        expect(finishLeavesPlan(before, data, false)).toBe(expected);
      });

      it('should not say so while a run is queued (the finish releases it)', () => {
        expect(finishLeavesPlan(started, success, true)).toBe(false);
      });

      it.each([
        ['an interval', { kind: 'interval' as const, intervalMs: 60_000 }],
        ['a cron', { kind: 'cron' as const, cron: '*/5 * * * *', timezone: 'Europe/Paris' }],
      ])(
        'should plan an endpoint on %s schedule the same after such a finish as before it',
        (_, schedule) => {
          const ctx = {
            now: new Date(at(62)),
            job: null,
            open: { inFlight: false, queued: false },
            newId: () => 'new-run',
          };
          const planned = replan(ctx, { ...started, config: { ...config, schedule } }).row;
          expect(finishLeavesPlan(planned, success, false)).toBe(true);
          const after = replan(ctx, applyRunFinished(planned, success));
          expect(after.planChanged).toBe(false);
          expect(after.row.plan).toEqual(planned.plan);
        },
      );
    });

    it("should keep the newest run's response for templates, out of the governor's inputs", () => {
      const response = {
        snippet: '{"cursor":"c-2"}',
        bytes: 16,
        truncated: false,
        contentType: 'application/json',
      };
      const next = applyRunFinished(handedOut, { ...finished('r2', 'success', at(62)), response });
      expect(next.lastFinished?.response).toEqual(response);
      expect(runHistory(next, { inFlight: false, queued: false }).lastFinished).toEqual({
        status: 'success',
        httpStatus: 200,
        retryAfterMs: null,
        finishedAt: at(62),
      });
    });
  });
});
