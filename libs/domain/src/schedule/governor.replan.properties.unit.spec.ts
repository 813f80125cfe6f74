import { DEFAULT_GOVERNOR_OPTIONS, RunPlan } from './governor.types';
import {
  DAY,
  GovernorCase,
  HOUR,
  Random,
  duration,
  governorCases,
  iso,
  planFor,
  planSummary,
  withEndpoint,
  withHistory,
} from '../../test/governor-cases';

// Properties that compare plans (DESIGN §5, docs/governor.md): the same case planned with one
// input changed, or again at a later instant. A failure names the seed: `generateCase(seed)`.

const forAll = governorCases(2_000_000, 2_000);

const same = (actual: RunPlan, expected: RunPlan) =>
  expect(planSummary(actual)).toEqual(planSummary(expected));

describe('Governor properties, planned again', () => {
  describe('When nothing adapts the schedule', () => {
    it('should plan the same whatever maxIntervalMs is (no hints, fewer than 2 failures)', () => {
      forAll((c, plan) => {
        const adapted =
          c.endpoint.hints.some((hint) => hint.kind === 'interval') || c.history.consecutiveFailures >= 2;
        if (adapted) return;
        const maxIntervalMs = c.endpoint.maxIntervalMs === null ? duration(new Random(c.seed), DAY) : null;
        same(planFor(withEndpoint(c, { maxIntervalMs })), plan);
      });
    });
  });

  describe('When runs fail in a row', () => {
    it('should only make runs later (outside catch-up), and stretch them by at most the cap', () => {
      forAll((c, plan) => {
        const last = c.history.lastRun;
        if (c.history.consecutiveFailures < 2 || last === null || c.endpoint.pauseAfterFailures !== null)
          return;
        const calm = planFor(withHistory(c, { consecutiveFailures: 0 }));
        if (plan.runAt === null || calm.runAt === null) return;
        if (plan.reason.startsWith('catch_up:') || calm.reason.startsWith('catch_up:')) return;
        if (plan.runAt < calm.runAt) {
          throw new Error(
            `backoff moved the run earlier: ${plan.runAt.toISOString()} < ${calm.runAt.toISOString()}`,
          );
        }
        if (plan.reason === 'backoff') {
          const lastRunAt = Math.max(
            Date.parse(last.scheduledFor),
            Date.parse(last.startedAt ?? last.scheduledFor),
          );
          const cap = c.endpoint.maxIntervalMs ?? DEFAULT_GOVERNOR_OPTIONS.defaultMaxBackoffMs;
          expect(plan.slot!.getTime() - lastRunAt).toBeLessThanOrEqual(cap);
        }
      });
    });
  });

  describe('When a one-shot hint is in force', () => {
    it('should only ever move the slot earlier (outside catch-up)', () => {
      forAll((c, plan) => {
        const oneShot = c.endpoint.hints.find(
          (h) => h.kind === 'one_shot' && Date.parse(h.expiresAt) > c.now,
        );
        if (!oneShot || plan.slot === null || plan.reason.startsWith('catch_up:')) return;
        const without = planFor(withEndpoint(c, { hints: c.endpoint.hints.filter((h) => h !== oneShot) }));
        if (without.slot === null || without.reason.startsWith('catch_up:')) return;
        if (plan.slot > without.slot) {
          throw new Error(
            `the one-shot moved the slot later: ${plan.slot.toISOString()} > ${without.slot.toISOString()}`,
          );
        }
      });
    });
  });

  describe('When a pause is in force', () => {
    it('should plan the first run as of the end of the pause', () => {
      forAll((c, plan) => {
        const { status, job, pauseAfterFailures } = c.endpoint;
        if (plan.runAt === null || !['paused_until', 'job_paused_until', 'hint:pause'].includes(plan.reason))
          return;
        if (pauseAfterFailures !== null && c.history.consecutiveFailures >= pauseAfterFailures) return;
        const active = { kind: 'active' } as const;
        const after = planFor({
          ...withEndpoint(c, {
            status: status.kind === 'paused' && status.until !== null ? active : status,
            job: job.kind === 'paused' && job.until !== null ? active : job,
            hints: c.endpoint.hints.filter((hint) => hint.kind !== 'pause'),
          }),
          history: { ...c.history, pendingPlan: null },
          now: Date.parse(String(plan.inputs.pausedUntil)),
        });
        expect({ runAt: after.runAt, slot: after.slot, reason: after.reason }).toEqual({
          runAt: plan.runAt,
          slot: plan.slot,
          reason: plan.inputs.planAfterPause,
        });
      });
    });
  });

  describe('When hints expire', () => {
    it('should plan as without an expired hint', () => {
      forAll((c, plan) => {
        const live = c.endpoint.hints.filter((hint) => Date.parse(hint.expiresAt) > c.now);
        if (live.length === c.endpoint.hints.length) return;
        same(planFor(withEndpoint(c, { hints: live })), plan);
      });
    });

    it('should plan as without a hint at its expiry and after', () => {
      forAll((c) => {
        const hint = c.endpoint.hints.find((h) => h.kind !== 'pause' && Date.parse(h.expiresAt) > c.now);
        if (!hint) return;
        const later = {
          ...withHistory(c, { pendingPlan: null }),
          now: Date.parse(hint.expiresAt) + new Random(c.seed).int(0, 2 * HOUR),
        };
        const without = withEndpoint(later, { hints: c.endpoint.hints.filter((h) => h !== hint) });
        same(planFor(later), planFor(without));
      });
    });
  });

  describe('When a stored plan comes due', () => {
    /** The case with `plan` stored as its pending plan, or null when the plan is not one to store. */
    const withStored = (c: GovernorCase, plan: RunPlan): { stored: GovernorCase; runAt: number } | null => {
      const { pauseAfterFailures } = c.endpoint;
      if (plan.runAt === null || plan.slot === null || plan.catchUpRuns || plan.runAt.getTime() === c.now)
        return null;
      if (pauseAfterFailures !== null && c.history.consecutiveFailures >= pauseAfterFailures) return null;
      const pendingPlan = { runAt: plan.runAt.toISOString(), slot: plan.slot.toISOString() };
      const skippedThrough = plan.skipped ? plan.skipped.last.toISOString() : c.history.skippedThrough;
      return { stored: withHistory(c, { pendingPlan, skippedThrough }), runAt: plan.runAt.getTime() };
    };

    it('should find it due again when nothing changed', () => {
      forAll((c, plan) => {
        const case_ = withStored(c, plan);
        if (!case_) return;
        const due = planFor({ ...case_.stored, now: case_.runAt });
        expect(due.runAt && iso(due.runAt.getTime())).toBe(iso(case_.runAt));
      });
    });

    it('should find it due when it is handed out late, by less than the catch-up grace', () => {
      forAll((c, plan) => {
        const case_ = withStored(c, plan);
        if (!case_) return;
        const now = case_.runAt + new Random(c.seed).int(1, DEFAULT_GOVERNOR_OPTIONS.catchUpGraceMs);
        const due = planFor({ ...case_.stored, now });
        expect(due.runAt && iso(due.runAt.getTime())).toBe(iso(now));
      });
    });
  });
});
