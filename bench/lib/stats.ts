/** p50/p95/p99/max of a sample, by nearest rank; all null for an empty sample. */
export interface Percentiles {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** Nearest-rank percentile of an ascending array (`q` in 0..1). */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : null,
    mean: sorted.length ? Math.round((sum / sorted.length) * 10) / 10 : null,
  };
}

/** One planned run of the log: its final plan (runId, runAt) and what became of it. */
export interface PlannedRun {
  runId: string;
  endpointId: string;
  /** The last `runAt` planned for this run id (re-plans of the same slot keep the id). */
  runAtMs: number;
  /** Global position of that last plan. */
  position: bigint;
}

export interface NextPlan {
  runId: string;
  /** When the plan was appended (`occurredAt`). */
  plannedAtMs: number;
  position: bigint;
}

export interface RunFate {
  startedAtMs: number | null;
  skipped: boolean;
  missed: boolean;
}

export type PlanOutcome =
  'on_time' | 'started_late' | 'never_started' | 'missed' | 'skipped' | 'superseded' | 'replanned_after_due';

/**
 * What became of a planned run.
 * - `on_time` / `started_late`: it started, within `lostAfterMs` of its time or later.
 * - `skipped` / `missed`: the scheduler recorded `RunSkipped` / `RunMissed` for it.
 * - `superseded`: a plan with another run id replaced it before it came due (the governor
 *   moved the slot, e.g. an interval counted from the previous run's actual start).
 * - `replanned_after_due`: replaced like that, but after its time (within `lostAfterMs`):
 *   the scheduler learnt of the previous start late and corrected the plan.
 * - `never_started`: none of these within `lostAfterMs` of its time: silently dropped.
 * Lost = `started_late` + `never_started` + `missed`.
 */
export function planOutcome(
  plan: PlannedRun,
  fate: RunFate | undefined,
  laterPlans: readonly NextPlan[],
  lostAfterMs: number,
): PlanOutcome {
  if (fate?.startedAtMs !== null && fate?.startedAtMs !== undefined) {
    return fate.startedAtMs - plan.runAtMs > lostAfterMs ? 'started_late' : 'on_time';
  }
  if (fate?.skipped) return 'skipped';
  if (fate?.missed) return 'missed';
  let replacedAt: number | null = null;
  for (const next of laterPlans) {
    if (next.runId === plan.runId || next.position <= plan.position) continue;
    if (replacedAt === null || next.plannedAtMs < replacedAt) replacedAt = next.plannedAtMs;
  }
  if (replacedAt === null || replacedAt - plan.runAtMs > lostAfterMs) return 'never_started';
  return replacedAt < plan.runAtMs ? 'superseded' : 'replanned_after_due';
}

export const LOST_OUTCOMES: readonly PlanOutcome[] = ['started_late', 'never_started', 'missed'];

/**
 * HTTP calls the target received beyond the runs the log says were started, per endpoint
 * (a call made twice for one run), and runs started that the target never saw.
 */
export function compareCalls(
  callsByEndpoint: ReadonlyMap<string, number>,
  startsByEndpoint: ReadonlyMap<string, number>,
): { extraCalls: number; unseenStarts: number } {
  let extraCalls = 0;
  let unseenStarts = 0;
  for (const key of new Set([...callsByEndpoint.keys(), ...startsByEndpoint.keys()])) {
    const diff = (callsByEndpoint.get(key) ?? 0) - (startsByEndpoint.get(key) ?? 0);
    if (diff > 0) extraCalls += diff;
    else unseenStarts -= diff;
  }
  return { extraCalls, unseenStarts };
}
