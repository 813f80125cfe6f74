import { EndpointSchedule } from '@cronicorn/events';
import { endpointConfigWithDefaults } from '../endpoint/endpoint.config';
import { validateHint } from '../endpoint/endpoint.hints';
import { ActiveHint } from '../endpoint/endpoint.state';
import { planNextRun } from '../schedule/governor';
import { HeuristicPlanner } from './heuristic-planner';
import { PlannerContext, PlannerRun, ToolCallRequest } from './planner.types';
import { plannerContext } from '../../test/planner-context';

// The documented rules (docs/adaptive-scheduling.md) in realistic situations, with every call
// passed through the decider's `validateHint` as in production, and analysed again on the same
// runs: a proposal already in force must not be proposed again.

const NOW = '2025-03-03T12:00:00.000Z';
const now = Date.parse(NOW);
const SEC = 1_000;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const AI_MAX_PAUSE_MS = DAY;

const planner = new HeuristicPlanner();

interface Endpoint {
  schedule: EndpointSchedule;
  minIntervalMs: number | null;
  maxIntervalMs: number | null;
}

const everyMinute: Endpoint = {
  schedule: { kind: 'interval', intervalMs: MIN },
  minIntervalMs: 15 * SEC,
  maxIntervalMs: 5 * MIN,
};
const dailyCron: Endpoint = {
  schedule: { kind: 'cron', cron: '59 11 * * *', timezone: 'UTC' },
  minIntervalMs: null,
  maxIntervalMs: 2 * HOUR,
};
const hourlyUnbounded: Endpoint = {
  schedule: { kind: 'interval', intervalMs: HOUR },
  minIntervalMs: null,
  maxIntervalMs: null,
};
const weeklyUnbounded: Endpoint = {
  schedule: { kind: 'cron', cron: '59 11 * * 1', timezone: 'UTC' },
  minIntervalMs: null,
  maxIntervalMs: null,
};

type Outcome = 'ok' | 'fail' | 'slow';

/** Runs newest first, one per `spacingMs`, the newest finished a second ago. */
function runs(outcomes: Outcome[], spacingMs: number, body?: (i: number) => unknown): PlannerRun[] {
  return outcomes.map((outcome, i) => {
    const finished = now - SEC - i * spacingMs;
    const durationMs = outcome === 'slow' ? 900 : 100;
    return {
      runId: `r${i}`,
      trigger: 'schedule',
      status: outcome === 'fail' ? 'failed' : 'success',
      httpStatus: outcome === 'fail' ? 502 : 200,
      durationMs,
      startedAt: new Date(finished - durationMs).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      retryAfterMs: null,
      error: null,
      snippet: null,
      truncated: false,
      body: body ? body(i) : null,
    };
  });
}

function context(endpoint: Endpoint, recentRuns: PlannerRun[], hints: ActiveHint[] = []): PlannerContext {
  const hour = recentRuns.filter((r) => Date.parse(r.finishedAt) > now - HOUR);
  let streak = 0;
  while (streak < recentRuns.length && recentRuns[streak].status !== 'success') streak += 1;
  const base = plannerContext();
  return plannerContext({
    schedule: endpoint.schedule,
    bounds: { ...base.bounds, minIntervalMs: endpoint.minIntervalMs, maxIntervalMs: endpoint.maxIntervalMs },
    activeHints: hints,
    recentRuns,
    health: {
      ...base.health,
      failureStreak: streak,
      successRate1h: hour.length ? hour.filter((r) => r.status === 'success').length / hour.length : null,
      latency1h: { runs: hour.length, p50Ms: 100, p95Ms: 120 },
    },
    now: NOW,
  });
}

/** The hints after the decider applied `calls` (validated and clamped as in production). */
function applied(endpoint: Endpoint, hints: ActiveHint[], calls: ToolCallRequest[]): ActiveHint[] {
  const config = endpointConfigWithDefaults({
    name: 'status',
    url: 'https://target.example/status',
    ...endpoint,
  });
  let result = hints;
  for (const { name, arguments: args } of calls) {
    const a = args as {
      intervalMs?: number;
      at?: string;
      until?: string;
      ttlMinutes?: number;
      reason: string;
    };
    if (name === 'clear_hints') {
      result = [];
      continue;
    }
    const kind =
      name === 'propose_interval' ? 'interval' : name === 'propose_next_time' ? 'one_shot' : 'pause';
    const value = a.intervalMs ?? a.at ?? a.until ?? '';
    const decision = validateHint(
      config,
      {
        kind,
        value,
        ttlMinutes: a.ttlMinutes,
        reason: a.reason,
        source: 'heuristic',
        aiMaxPauseMs: AI_MAX_PAUSE_MS,
      },
      new Date(now),
    );
    if (decision.outcome === 'rejected') throw new Error(`${name} rejected: ${decision.reason}`);
    const hint = {
      hintId: `h-${name}`,
      kind,
      value: decision.hint.value,
      expiresAt: decision.hint.expiresAt,
      source: 'heuristic',
      reason: a.reason,
      model: null,
      proposedAt: NOW,
    } as ActiveHint;
    result = [...result.filter((h) => h.kind !== kind), hint];
  }
  return result;
}

function intervalHint(value: number, expiresInMs = 25 * MIN, proposedAgoMs = 5 * MIN): ActiveHint {
  return {
    hintId: 'h0',
    kind: 'interval',
    value,
    expiresAt: new Date(now + expiresInMs).toISOString(),
    source: 'heuristic',
    reason: 'earlier analysis',
    model: null,
    proposedAt: new Date(now - proposedAgoMs).toISOString(),
  };
}

describe('HeuristicPlanner in realistic scenarios', () => {
  type Scenario = {
    name: string;
    endpoint: Endpoint;
    runs: PlannerRun[];
    hints?: ActiveHint[];
    rule: string;
    /** The interval hint in force after the analysis; null: none. */
    interval: number | null;
  };

  const scenarios: Scenario[] = [
    {
      name: 'a healthy endpoint stretches to 4× its schedule',
      endpoint: everyMinute,
      runs: runs(Array(20).fill('ok'), 2 * MIN),
      hints: [intervalHint(2 * MIN)],
      rule: 'stable',
      interval: 4 * MIN,
    },
    {
      name: 'a stretched endpoint whose target starts failing retries 15 s later',
      endpoint: everyMinute,
      runs: runs(['fail', ...Array(19).fill('ok')], 4 * MIN),
      hints: [intervalHint(4 * MIN)],
      rule: 'failure_streak',
      interval: 15 * SEC,
    },
    {
      name: 'a long outage keeps the retry hint for the governor to back off from',
      endpoint: everyMinute,
      runs: runs(Array(20).fill('fail'), 5 * MIN),
      hints: [intervalHint(15 * SEC)],
      rule: 'failure_streak',
      interval: 15 * SEC,
    },
    {
      name: 'the first success after an outage holds the schedule',
      endpoint: everyMinute,
      runs: runs(['ok', ...Array(19).fill('fail')], 5 * MIN),
      hints: [intervalHint(15 * SEC)],
      rule: 'recovery',
      interval: MIN,
    },
    {
      name: 'a flapping target, up again, holds the schedule',
      endpoint: everyMinute,
      runs: runs(['ok', 'fail', 'ok', 'ok', 'fail', 'fail', 'ok', 'ok', 'ok', 'ok'], MIN),
      hints: [intervalHint(15 * SEC)],
      rule: 'recovery',
      interval: MIN,
    },
    {
      name: 'a recovery analysed two runs late still drops the 15 s retry hint',
      endpoint: everyMinute,
      runs: runs(['ok', 'ok', ...Array(18).fill('fail')], 15 * SEC),
      hints: [intervalHint(15 * SEC, 25 * MIN, 10 * MIN)],
      rule: 'recovery',
      interval: MIN,
    },
    {
      name: 'a target up for more than the 2 h hold is not held again',
      endpoint: everyMinute,
      runs: runs([...Array(19).fill('ok'), 'fail'], 8 * MIN),
      hints: [intervalHint(4 * MIN)],
      rule: 'stable',
      interval: 4 * MIN,
    },
    {
      name: 'a failing daily cron with a 2 h max backs off from its schedule',
      endpoint: dailyCron,
      runs: runs(['fail', 'ok', 'ok'], DAY),
      rule: 'failure_streak',
      interval: null,
    },
    {
      name: 'a daily cron with a 2 h max, recovered, drops a leftover hint and holds nothing',
      endpoint: dailyCron,
      runs: runs(['ok', 'fail', 'ok'], DAY),
      hints: [intervalHint(2 * HOUR, 25 * MIN, 2 * DAY)],
      rule: 'recovery',
      interval: null,
    },
    {
      name: 'a healthy daily cron with a 2 h max drops a hint tighter than its schedule',
      endpoint: dailyCron,
      runs: runs(Array(5).fill('ok'), 20 * MIN),
      hints: [intervalHint(2 * HOUR)],
      rule: 'stable',
      interval: null,
    },
    {
      name: 'a latency spike on a stretched endpoint watches at the schedule',
      endpoint: everyMinute,
      runs: runs([...Array(5).fill('slow'), ...Array(15).fill('ok')], MIN),
      hints: [intervalHint(4 * MIN)],
      rule: 'latency',
      interval: null,
    },
    {
      name: 'a draining queue tightens',
      endpoint: everyMinute,
      runs: runs(Array(20).fill('ok'), MIN, (i) => ({ queue_depth: 1_000 + i * 100 })),
      rule: 'queue',
      interval: Math.round((10 * MIN) / 8),
    },
    {
      name: 'a growing queue on a stretched endpoint watches at the schedule',
      endpoint: everyMinute,
      runs: runs(Array(20).fill('ok'), 4 * MIN, (i) => ({ queue_depth: 1_000 - i * 10 })),
      hints: [intervalHint(4 * MIN)],
      rule: 'queue',
      interval: null,
    },
    {
      name: 'a daily cron with a 2 h max follows a target asking for every 12 h',
      endpoint: dailyCron,
      runs: runs(Array(5).fill('ok'), DAY, () => ({ suggested_interval_ms: 12 * HOUR })),
      rule: 'suggested_interval',
      interval: 12 * HOUR,
    },
    {
      name: 'a weekly cron without bounds whose target asks for every 2 weeks stays weekly',
      endpoint: weeklyUnbounded,
      runs: runs(Array(5).fill('ok'), 7 * DAY, () => ({ suggested_interval_ms: 14 * DAY })),
      rule: 'suggested_interval',
      interval: null,
    },
    {
      name: 'a slowly draining queue on a daily cron with a 2 h max stays daily',
      endpoint: dailyCron,
      runs: runs(Array(5).fill('ok'), DAY, (i) => ({ queue_depth: 1_000 + i * 100 })),
      rule: 'queue',
      interval: null,
    },
    {
      name: 'a healthy daily cron with a 2 h max stays daily',
      endpoint: dailyCron,
      runs: runs(Array(5).fill('ok'), DAY),
      rule: 'no_change',
      interval: null,
    },
    {
      name: 'an hourly endpoint without bounds stretches to 4 h at most',
      endpoint: hourlyUnbounded,
      runs: runs(Array(5).fill('ok'), 20 * MIN),
      hints: [intervalHint(3 * HOUR)],
      rule: 'stable',
      interval: 4 * HOUR,
    },
  ];

  it.each(scenarios)('$name, and proposes nothing more on the same runs', (s) => {
    const first = planner.decide(context(s.endpoint, s.runs, s.hints ?? []));
    expect(first.rule).toBe(s.rule);
    const hints = applied(s.endpoint, s.hints ?? [], first.toolCalls);
    expect(hints.find((h) => h.kind === 'interval')?.value ?? null).toBe(s.interval);

    const again = planner.decide(context(s.endpoint, s.runs, hints));
    expect(again.toolCalls).toEqual([]);
  });

  it('holds a recovery for 2 h from the first success, however late it is analysed', () => {
    const late = planner.decide(context(everyMinute, runs(['ok', 'ok', 'ok', 'fail'], 10 * MIN)));
    expect(late.rule).toBe('recovery');
    expect(late.toolCalls).toEqual([
      { name: 'propose_interval', arguments: expect.objectContaining({ intervalMs: MIN, ttlMinutes: 100 }) },
    ]);
  });

  it('keeps a daily cron with a 2 h max daily after it recovers', () => {
    const finished = now - SEC;
    const recovered = runs(['ok', 'fail'], DAY);
    const hints = applied(dailyCron, [], planner.decide(context(dailyCron, recovered)).toolCalls);
    const slot = '2025-03-03T11:59:00.000Z';
    const next = planNextRun(
      new Date(now),
      {
        endpointId: 'e1',
        createdAt: '2025-01-01T00:00:00.000Z',
        status: { kind: 'active' },
        job: { kind: 'active' },
        hints,
        schedule: dailyCron.schedule,
        startAt: null,
        endAt: null,
        maxRuns: null,
        minIntervalMs: dailyCron.minIntervalMs,
        maxIntervalMs: dailyCron.maxIntervalMs,
        jitterMs: 0,
        catchUp: 'once',
        overlap: 'skip',
        pauseAfterFailures: null,
      },
      {
        lastRun: { scheduledFor: slot, startedAt: slot },
        lastFinished: {
          status: 'success',
          httpStatus: 200,
          retryAfterMs: null,
          finishedAt: new Date(finished).toISOString(),
        },
        consecutiveFailures: 0,
        scheduledRuns: 60,
        skippedThrough: null,
        pendingPlan: null,
        inFlight: false,
        queued: false,
      },
    );
    expect(next.runAt?.toISOString()).toBe('2025-03-04T11:59:00.000Z');
  });

  it.each([
    ['every minute, 15 s – 5 min', everyMinute],
    ['daily cron, 2 h max', dailyCron],
    ['hourly, no bounds', hourlyUnbounded],
  ])('keeps every proposal inside the bounds the decider enforces (%s)', (_, endpoint) => {
    const period = endpoint === dailyCron ? DAY : endpoint === everyMinute ? MIN : HOUR;
    const situations: [Outcome[], ActiveHint[]][] = [
      [Array(20).fill('ok'), []],
      [['fail', ...Array(19).fill('ok')], []],
      [Array(20).fill('fail'), []],
      [['ok', ...Array(19).fill('fail')], [intervalHint(period / 4)]],
      [['ok', 'fail', 'ok', 'fail', ...Array(16).fill('ok')], []],
    ];
    for (const [outcomes, hints] of situations) {
      const ctx = context(endpoint, runs(outcomes, period), hints);
      for (const call of planner.decide(ctx).toolCalls) {
        const args = call.arguments as { intervalMs?: number; ttlMinutes?: number };
        if (args.intervalMs === undefined) continue;
        expect(args.intervalMs).toBeGreaterThanOrEqual(Math.max(SEC, endpoint.minIntervalMs ?? 0));
        expect(args.intervalMs).toBeLessThanOrEqual(endpoint.maxIntervalMs ?? AI_MAX_PAUSE_MS);
        expect(args.ttlMinutes).toBeGreaterThan(0);
        expect(args.ttlMinutes).toBeLessThanOrEqual(7 * 24 * 60);
      }
    }
  });
});
