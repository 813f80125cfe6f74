import { RunFinished } from '@cronicorn/events';
import { LatencySummary, PlannerHealth, PlannerRun } from './planner.types';

// Helpers that build the parts of a `PlannerContext` from run facts. Pure, so the ai-planner
// and the simulator summarise runs the same way.

const HOUR = 60 * 60_000;

/** A finished run as a planner sees it; the snippet is parsed as JSON when it parses. */
export function toPlannerRun(data: RunFinished['data']): PlannerRun {
  const snippet = data.response?.snippet ?? null;
  return {
    runId: data.runId,
    trigger: data.trigger,
    status: data.status,
    httpStatus: data.httpStatus,
    durationMs: data.durationMs,
    startedAt: data.startedAt,
    finishedAt: data.finishedAt,
    retryAfterMs: data.retryAfterMs,
    error: data.error,
    snippet,
    truncated: data.response?.truncated ?? false,
    body: parseSnippetJson(snippet),
  };
}

/** The snippet as JSON, or null when it is absent or does not parse. */
export function parseSnippetJson(snippet: string | null): unknown {
  if (snippet === null || snippet.trim() === '') return null;
  try {
    return JSON.parse(snippet) as unknown;
  } catch {
    return null;
  }
}

/**
 * Success rates and latency percentiles over the last hour and day of `runs` (any order),
 * measured at `now` by `finishedAt`. `failureStreak` is the governor's count.
 */
export function plannerHealth(runs: readonly PlannerRun[], failureStreak: number, now: Date): PlannerHealth {
  const since = (ms: number) =>
    runs.filter((run) => {
      const at = Date.parse(run.finishedAt);
      return at <= now.getTime() && at > now.getTime() - ms;
    });
  const hour = since(HOUR);
  const day = since(24 * HOUR);
  return {
    failureStreak,
    successRate1h: successRate(hour),
    successRate24h: successRate(day),
    latency1h: latency(hour),
    latency24h: latency(day),
  };
}

function successRate(runs: readonly PlannerRun[]): number | null {
  if (runs.length === 0) return null;
  return runs.filter((run) => run.status === 'success').length / runs.length;
}

function latency(runs: readonly PlannerRun[]): LatencySummary {
  const sorted = runs.map((run) => run.durationMs).sort((a, b) => a - b);
  return { runs: sorted.length, p50Ms: percentile(sorted, 0.5), p95Ms: percentile(sorted, 0.95) };
}

/** Nearest-rank percentile of ascending values; null when there are none. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1];
}
