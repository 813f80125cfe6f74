import { DEFAULT_GOVERNOR_OPTIONS, GovernorHint, PlanReason, RunHistory } from './governor.types';
import { nextCronTimes } from './cron';
import { GovernorCase, governorCases, iso, planFor, planSummary } from '../../test/governor-cases';

// Invariants of every single plan (DESIGN §5, docs/governor.md) over random endpoints,
// histories, hints and instants. A failure names the seed: `generateCase(seed)` rebuilds it.

const REASONS: readonly PlanReason[] = [
  'archived',
  'job_archived',
  'ended:end_at',
  'ended:max_runs',
  'ended:once',
  'paused',
  'job_paused',
  'pause_after_failures',
  'invalid_schedule',
  'paused_until',
  'job_paused_until',
  'hint:pause',
  'cron',
  'interval',
  'once',
  'hint:interval',
  'hint:one_shot',
  'backoff',
  'retry_after',
  'min_interval',
  'start_at',
  'catch_up:once',
  'catch_up:skip',
  'catch_up:all',
];
const PAUSE_REASONS: readonly PlanReason[] = ['paused_until', 'job_paused_until', 'hint:pause'];

const forAll = governorCases(1_000_000, 2_000);

const ms = (value: string | null | undefined): number | null => (value ? Date.parse(value) : null);
const time = (date: Date | null | undefined): number | null => date?.getTime() ?? null;

function lastRunAt(history: RunHistory): number | null {
  const run = history.lastRun;
  return run ? Math.max(Date.parse(run.scheduledFor), ms(run.startedAt) ?? -Infinity) : null;
}

function retryAfterUntil(history: RunHistory): number | null {
  const last = history.lastFinished;
  if (!last || (last.httpStatus !== 429 && last.httpStatus !== 503) || last.retryAfterMs === null)
    return null;
  return Date.parse(last.finishedAt) + last.retryAfterMs;
}

/** The end of every timed pause in force at `now`: user, job, and an AI pause as rule 2 caps it. */
function pauseEnds(c: GovernorCase): number[] {
  const ends = [c.endpoint.status, c.endpoint.job].flatMap((s) =>
    s.kind === 'paused' && s.until !== null ? [Date.parse(s.until)] : [],
  );
  const pause = c.endpoint.hints
    .filter((hint): hint is Extract<GovernorHint, { kind: 'pause' }> => hint.kind === 'pause')
    .find((hint) => Date.parse(hint.expiresAt) > c.now);
  if (pause) {
    const cap =
      pause.source === 'api'
        ? Infinity
        : Date.parse(pause.proposedAt) + DEFAULT_GOVERNOR_OPTIONS.aiMaxPauseMs;
    ends.push(Math.min(Date.parse(pause.value), Date.parse(pause.expiresAt), cap));
  }
  return ends.filter((end) => end > c.now);
}

function expectNotBefore(actual: number | null, floor: number | null, what: string): void {
  if (actual !== null && floor !== null && actual < floor) {
    throw new Error(`${what}: ${iso(actual)} is before ${iso(floor)}`);
  }
}

const isFireTime = (cron: string, timezone: string, at: number): boolean =>
  nextCronTimes(cron, timezone, new Date(at - 1), 1)[0].getTime() === at;

describe('Governor properties', () => {
  describe('When any endpoint is planned', () => {
    it('should give a documented reason, and a slot exactly when there is a run', () => {
      forAll((_, plan) => {
        expect(REASONS).toContain(plan.reason);
        expect(plan.slot === null).toBe(plan.runAt === null);
        if (plan.pauseForFailures) expect(plan.reason).toBe('pause_after_failures');
      });
    });

    it('should give the same plan for the same inputs, jitter included', () => {
      forAll((c, plan) => {
        const copy = JSON.parse(JSON.stringify(c)) as GovernorCase;
        expect(planSummary(planFor(copy))).toEqual(planSummary(plan));
      });
    });

    it('should never plan a run before now, and plan a catch-up run at now exactly', () => {
      forAll((c, plan) => {
        expectNotBefore(time(plan.runAt), c.now, 'runAt');
        if (plan.reason === 'catch_up:once' || plan.reason === 'catch_up:all')
          expect(time(plan.runAt)).toBe(c.now);
      });
    });

    it('should run a slot at most jitterMs late, unless it is overdue or a pause holds it', () => {
      forAll((c, plan) => {
        const runAt = time(plan.runAt);
        const slot = time(plan.slot);
        if (runAt === null || slot === null) return;
        expectNotBefore(runAt, slot, 'runAt against its slot');
        if (runAt === c.now || PAUSE_REASONS.includes(plan.reason)) return;
        expect(runAt - slot).toBeLessThanOrEqual(c.endpoint.jitterMs);
      });
    });
  });

  describe('When rule 1 stops the endpoint', () => {
    it('should plan nothing once ended, archived, paused indefinitely or paused for failures', () => {
      forAll(({ now, endpoint, history }, plan) => {
        const { schedule, status, job, pauseAfterFailures } = endpoint;
        const last = lastRunAt(history);
        const stopped =
          (endpoint.endAt !== null && now > Date.parse(endpoint.endAt) && history.pendingPlan === null) ||
          (endpoint.maxRuns !== null && history.scheduledRuns >= endpoint.maxRuns) ||
          (schedule.kind === 'once' && last !== null && last >= Date.parse(schedule.runAt)) ||
          status.kind === 'archived' ||
          job.kind === 'archived' ||
          (status.kind === 'paused' && status.until === null) ||
          (job.kind === 'paused' && job.until === null) ||
          (pauseAfterFailures !== null &&
            history.consecutiveFailures >= pauseAfterFailures &&
            status.kind === 'active');
        if (stopped) expect(plan.runAt).toBeNull();
      });
    });

    it('should hand out no more catch-up runs than maxCatchUpRuns and maxRuns leave', () => {
      forAll(({ endpoint, history }, plan) => {
        if (!plan.catchUpRuns) return;
        const left = endpoint.maxRuns === null ? Infinity : endpoint.maxRuns - history.scheduledRuns;
        expect(plan.catchUpRuns.length).toBeGreaterThanOrEqual(1);
        expect(plan.catchUpRuns.length).toBeLessThanOrEqual(
          Math.min(DEFAULT_GOVERNOR_OPTIONS.maxCatchUpRuns, left),
        );
      });
    });
  });

  describe('When a hint decides the run', () => {
    it('should plan it before the hint expires', () => {
      forAll((c, plan) => {
        const { hintExpiresAt, hintExpiresBeforeItsRun } = plan.inputs;
        if (plan.runAt === null || typeof hintExpiresAt !== 'string' || hintExpiresBeforeItsRun) return;
        const expiresAt = Date.parse(hintExpiresAt);
        expect(c.endpoint.hints.map((hint) => Date.parse(hint.expiresAt))).toContain(expiresAt);
        if (plan.runAt.getTime() >= expiresAt) {
          throw new Error(
            `the run at ${plan.runAt.toISOString()} comes after its hint expired (${hintExpiresAt})`,
          );
        }
      });
    });
  });

  describe('When a pause is in force', () => {
    it('should plan no run before the pause that ends last', () => {
      forAll((c, plan) => {
        const ends = pauseEnds(c);
        if (ends.length === 0) return;
        expectNotBefore(time(plan.runAt), Math.max(...ends), 'runAt during a pause');
        expect(plan.catchUpRuns).toBeUndefined();
      });
    });
  });

  describe('When bounds apply', () => {
    it("should keep every run at least minIntervalMs after the last run's start", () => {
      forAll((c, plan) => {
        const last = lastRunAt(c.history);
        const { minIntervalMs } = c.endpoint;
        if (last === null || minIntervalMs === null) return;
        for (const at of [plan.runAt, plan.slot, ...(plan.catchUpRuns ?? [])]) {
          expectNotBefore(time(at), last + minIntervalMs, 'against minIntervalMs');
        }
      });
    });

    it('should honour a Retry-After on a 429 or 503', () => {
      forAll((c, plan) => {
        const until = retryAfterUntil(c.history);
        for (const at of [plan.runAt, plan.slot, ...(plan.catchUpRuns ?? [])]) {
          expectNotBefore(time(at), until, 'against Retry-After');
        }
      });
    });

    it('should plan no run before startAt', () => {
      forAll((c, plan) => {
        for (const at of [plan.runAt, plan.slot, ...(plan.catchUpRuns ?? [])]) {
          expectNotBefore(time(at), ms(c.endpoint.startAt), 'against startAt');
        }
      });
    });

    it('should plan no run after endAt', () => {
      forAll((c, plan) => {
        const endAt = ms(c.endpoint.endAt);
        if (endAt === null) return;
        // A stored plan for a time up to endAt that comes due may still be handed out at once.
        const dueBeforeEnd = (ms(c.history.pendingPlan?.runAt) ?? Infinity) <= endAt;
        for (const at of [plan.runAt, ...(plan.catchUpRuns ?? [])]) {
          const t = time(at);
          if (t !== null && t > endAt && !(t === c.now && dueBeforeEnd)) {
            throw new Error(`${iso(t)} is after endAt ${iso(endAt)}`);
          }
        }
      });
    });
  });

  describe('When the schedule is a cron', () => {
    it('should plan fire times of the cron unless a hint names another time', () => {
      forAll(({ endpoint }, plan) => {
        const { schedule } = endpoint;
        if (schedule.kind !== 'cron' || plan.slot === null) return;
        const byHint = endpoint.hints.some((hint) => hint.kind !== 'pause');
        if (byHint && plan.reason !== 'cron') return;
        const slots = [plan.slot, ...(plan.catchUpRuns ?? [])];
        if (plan.skipped) slots.push(plan.skipped.first, plan.skipped.last);
        for (const slot of slots) {
          if (!isFireTime(schedule.cron, schedule.timezone, slot.getTime())) {
            throw new Error(
              `${slot.toISOString()} is not a fire time of "${schedule.cron}" in ${schedule.timezone}`,
            );
          }
        }
      });
    });
  });
});
