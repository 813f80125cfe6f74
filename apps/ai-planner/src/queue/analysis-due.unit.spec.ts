import { dueAfterAnalysis, dueAfterRun, DueState, healthChanged, streakAfterRun } from './analysis-due';

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
const INTERVAL = 5 * 60_000;

const fresh: DueState = {
  dueAt: null,
  failureStreak: 0,
  lastFinishedAt: null,
  analyzedFailureStreak: null,
  lastAnalyzedAt: null,
};

describe('Analysis due times', () => {
  describe('When a run finishes', () => {
    it('should count schedule and manual failures and restart at a success', () => {
      const failed = streakAfterRun(fresh, { status: 'failed', trigger: 'schedule', finishedAt: at(1) });
      expect(failed).toEqual({ failureStreak: 1, lastFinishedAt: at(1) });
      const timedOut = streakAfterRun(failed, { status: 'timeout', trigger: 'manual', finishedAt: at(2) });
      expect(timedOut.failureStreak).toBe(2);
      expect(streakAfterRun(timedOut, { status: 'success', trigger: 'schedule', finishedAt: at(3) })).toEqual(
        {
          failureStreak: 0,
          lastFinishedAt: at(3),
        },
      );
    });

    it('should leave the streak alone for trigger and retry runs and for runs that arrive late', () => {
      const state = { failureStreak: 2, lastFinishedAt: at(5) };
      expect(streakAfterRun(state, { status: 'success', trigger: 'retry', finishedAt: at(6) })).toEqual(
        state,
      );
      expect(streakAfterRun(state, { status: 'failed', trigger: 'trigger', finishedAt: at(6) })).toEqual(
        state,
      );
      expect(streakAfterRun(state, { status: 'success', trigger: 'schedule', finishedAt: at(4) })).toEqual(
        state,
      );
    });

    it('should be due at once when the endpoint was never analysed', () => {
      expect(dueAfterRun(fresh, 0, at(0), INTERVAL)).toEqual(at(0));
    });

    it('should wait out the interval after the last analysis while health is unchanged', () => {
      const state: DueState = { ...fresh, analyzedFailureStreak: 0, lastAnalyzedAt: at(0) };
      expect(dueAfterRun(state, 0, at(1), INTERVAL)).toEqual(at(5));
      expect(dueAfterRun(state, 0, at(7), INTERVAL)).toEqual(at(7));
    });

    it('should be due at once when the failure streak crosses between 0 and more', () => {
      const healthy: DueState = { ...fresh, analyzedFailureStreak: 0, lastAnalyzedAt: at(0) };
      expect(dueAfterRun(healthy, 1, at(1), INTERVAL)).toEqual(at(1));
      const failing: DueState = {
        ...fresh,
        failureStreak: 3,
        analyzedFailureStreak: 3,
        lastAnalyzedAt: at(0),
      };
      expect(dueAfterRun(failing, 4, at(1), INTERVAL)).toEqual(at(5));
      expect(dueAfterRun(failing, 0, at(1), INTERVAL)).toEqual(at(1));
    });

    it('should never postpone an analysis already due earlier', () => {
      const state: DueState = { ...fresh, dueAt: at(2), analyzedFailureStreak: 0, lastAnalyzedAt: at(0) };
      expect(dueAfterRun(state, 0, at(1), INTERVAL)).toEqual(at(2));
    });
  });

  describe('When an analysis is recorded', () => {
    it('should want nothing more unless runs finished while it ran', () => {
      expect(dueAfterAnalysis(0, 0, false, at(0), INTERVAL)).toBeNull();
      expect(dueAfterAnalysis(0, 0, true, at(0), INTERVAL)).toEqual(at(5));
    });

    it('should be due at once when health changed while it ran', () => {
      expect(dueAfterAnalysis(2, 0, true, at(0), INTERVAL)).toEqual(at(0));
      expect(healthChanged(2, 0)).toBe(true);
      expect(healthChanged(2, 1)).toBe(false);
      expect(healthChanged(2, null)).toBe(false);
    });
  });
});
