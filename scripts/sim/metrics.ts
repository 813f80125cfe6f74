import { Scenario } from './scenarios';

// What the report measures. Kept apart from the engine: the audit judges the runs by the
// endpoint's bounds alone, not by the governor's own reasons.

/** A change of the target's state at `at` (ms since the start). */
export interface StateChange {
  at: number;
  from: string;
  to: string;
}

/** The state changes of a scenario, found by sampling its state every `stepMs`. */
export function stateChanges(scenario: Scenario, stepMs = 1_000): StateChange[] {
  const changes: StateChange[] = [];
  let current = scenario.state(0);
  for (let t = stepMs; t < scenario.durationMs; t += stepMs) {
    const state = scenario.state(t);
    if (state !== current) changes.push({ at: t, from: current, to: state });
    current = state;
  }
  return changes;
}

export interface RunTiming {
  start: number;
  finish: number;
}

export interface Reaction {
  change: StateChange;
  /** From the change to the end of the first run that saw the new state; null when none did. */
  reactionMs: number | null;
}

/**
 * How long each change took to be seen: until the first run that started after it (and
 * before the next change) finished. A state no run saw is missed (null).
 */
export function reactions(
  changes: readonly StateChange[],
  runs: readonly RunTiming[],
  endMs: number,
): Reaction[] {
  let i = 0;
  return changes.map((change, index) => {
    const until = changes[index + 1]?.at ?? endMs;
    while (i < runs.length && runs[i].start < change.at) i++;
    const run = runs[i];
    return { change, reactionMs: run && run.start < until ? run.finish - change.at : null };
  });
}

export interface AuditRun {
  start: number;
  finish: number;
  httpStatus: number | null;
  retryAfterMs: number | null;
}

export interface AuditBounds {
  minIntervalMs: number | null;
  /** The longest gap adaptation may make: max(maxIntervalMs or the default backoff cap, the schedule's period). */
  maxGapMs: number;
  aiMaxPauseMs: number;
}

export interface Violation {
  at: number;
  kind: 'below_min' | 'above_max' | 'pause_too_long';
  gapMs: number;
  limitMs: number;
}

/**
 * Runs outside the bounds: two starts closer than minIntervalMs, or further apart than the
 * longest gap allowed (maxGapMs, or longer only while a Retry-After or an AI pause was in
 * force), including a silence from the last run to the end; and AI pauses longer than
 * aiMaxPauseMs.
 */
export function auditRuns(
  runs: readonly AuditRun[],
  bounds: AuditBounds,
  pauses: readonly { from: number; until: number }[],
  endMs: number,
): Violation[] {
  const violations: Violation[] = [];
  for (const pause of pauses) {
    if (pause.until - pause.from > bounds.aiMaxPauseMs) {
      violations.push({
        at: pause.from,
        kind: 'pause_too_long',
        gapMs: pause.until - pause.from,
        limitMs: bounds.aiMaxPauseMs,
      });
    }
  }
  runs.forEach((run, index) => {
    const next = runs[index + 1];
    const nextStart = next ? next.start : endMs;
    const gap = nextStart - run.start;
    if (next && bounds.minIntervalMs !== null && gap < bounds.minIntervalMs) {
      violations.push({ at: next.start, kind: 'below_min', gapMs: gap, limitMs: bounds.minIntervalMs });
    }
    let latest = run.start + bounds.maxGapMs;
    const throttled = run.httpStatus === 429 || run.httpStatus === 503;
    if (throttled && run.retryAfterMs !== null) latest = Math.max(latest, run.finish + run.retryAfterMs);
    for (const pause of pauses) {
      if (pause.from < nextStart && pause.until > run.start) latest = Math.max(latest, pause.until);
    }
    // The trailing silence only counts once the next run was overdue before the end.
    if (nextStart > latest && (next || latest < endMs)) {
      violations.push({ at: nextStart, kind: 'above_max', gapMs: gap, limitMs: latest - run.start });
    }
  });
  return violations;
}

export function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}
