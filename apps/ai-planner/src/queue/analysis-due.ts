import { RunStatus, RunTrigger } from '@cronicorn/events';

// When an endpoint is due for analysis. Pure: the queue reads a row, asks these functions and
// writes the answer back in the same transaction.
//
// Debounce per endpoint: at most one analysis per `intervalMs`, leading edge (the first
// finished run after a quiet period is analysed at once, the ones after it wait for the rest
// of the interval). A change of health — the failure streak crossing between 0 and >0 compared
// with what the last analysis saw — is analysed at once.

/** What the queue knows about one endpoint, as far as timing goes. */
export interface DueState {
  dueAt: Date | null;
  failureStreak: number;
  lastFinishedAt: Date | null;
  /** The streak the last analysis saw; null before the first one. */
  analyzedFailureStreak: number | null;
  lastAnalyzedAt: Date | null;
}

export interface FinishedRunFacts {
  status: RunStatus;
  trigger: RunTrigger;
  finishedAt: Date;
}

/**
 * The failure streak after a finished run, counted like the endpoint read model: schedule and
 * manual runs only; a success restarts it. A run that finished before the newest one seen
 * arrived late (runs are separate streams) and does not change it.
 */
export function streakAfterRun(
  state: Pick<DueState, 'failureStreak' | 'lastFinishedAt'>,
  run: FinishedRunFacts,
): { failureStreak: number; lastFinishedAt: Date | null } {
  const counts = run.trigger === 'schedule' || run.trigger === 'manual';
  if (!counts) return { failureStreak: state.failureStreak, lastFinishedAt: state.lastFinishedAt };
  if (state.lastFinishedAt && run.finishedAt.getTime() < state.lastFinishedAt.getTime()) {
    return { failureStreak: state.failureStreak, lastFinishedAt: state.lastFinishedAt };
  }
  return {
    failureStreak: run.status === 'success' ? 0 : state.failureStreak + 1,
    lastFinishedAt: run.finishedAt,
  };
}

/** True when the streak moved between healthy (0) and failing (>0) since the last analysis. */
export function healthChanged(failureStreak: number, analyzedFailureStreak: number | null): boolean {
  return analyzedFailureStreak !== null && failureStreak > 0 !== analyzedFailureStreak > 0;
}

/** When the endpoint is due after a run finished with `failureStreak` (the new streak). */
export function dueAfterRun(state: DueState, failureStreak: number, now: Date, intervalMs: number): Date {
  let due: number;
  if (state.lastAnalyzedAt === null || healthChanged(failureStreak, state.analyzedFailureStreak)) {
    due = now.getTime();
  } else {
    due = Math.max(now.getTime(), state.lastAnalyzedAt.getTime() + intervalMs);
  }
  return new Date(state.dueAt ? Math.min(state.dueAt.getTime(), due) : due);
}

/**
 * When the endpoint is due after an analysis that saw `analyzedFailureStreak`: not at all
 * unless runs finished while it ran; then one interval later, or at once if health changed.
 */
export function dueAfterAnalysis(
  failureStreak: number,
  analyzedFailureStreak: number,
  newRequests: boolean,
  now: Date,
  intervalMs: number,
): Date | null {
  if (!newRequests) return null;
  return healthChanged(failureStreak, analyzedFailureStreak) ? now : new Date(now.getTime() + intervalMs);
}
