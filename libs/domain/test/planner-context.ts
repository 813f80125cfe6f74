import { PlannerContext } from '../src/planner/planner.types';

/** A healthy endpoint polled every minute, for planner tests; `overrides` replace whole fields. */
export function plannerContext(overrides: Partial<PlannerContext> = {}): PlannerContext {
  return {
    endpointId: 'e1',
    jobId: 'j1',
    name: 'status',
    description: null,
    request: { method: 'GET', url: 'https://target.example/status' },
    schedule: { kind: 'interval', intervalMs: 60_000 },
    bounds: {
      minIntervalMs: null,
      maxIntervalMs: null,
      startAt: null,
      endAt: null,
      pauseAfterFailures: null,
    },
    activeHints: [],
    siblings: [],
    recentRuns: [],
    health: {
      failureStreak: 0,
      successRate1h: 1,
      successRate24h: 1,
      latency1h: { runs: 60, p50Ms: 100, p95Ms: 120 },
      latency24h: { runs: 1440, p50Ms: 100, p95Ms: 120 },
    },
    nextRunAt: null,
    now: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}
