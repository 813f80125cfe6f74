import { ActiveHint } from '../endpoint/endpoint.state';
import { HeuristicPlanner } from './heuristic-planner';
import { parseToolCall } from './planner.tools';
import { PlannerContext, PlannerRun } from './planner.types';
import { plannerContext } from '../../test/planner-context';

const NOW = '2025-03-03T12:00:00.000Z';
const now = Date.parse(NOW);
const MIN = 60_000;

const at = (msBeforeNow: number) => new Date(now - msBeforeNow).toISOString();

function run(overrides: Partial<PlannerRun> & { ago?: number } = {}): PlannerRun {
  const { ago = MIN, ...rest } = overrides;
  return {
    runId: `r-${ago}`,
    trigger: 'schedule',
    status: 'success',
    httpStatus: 200,
    durationMs: 100,
    startedAt: at(ago + (rest.durationMs ?? 100)),
    finishedAt: at(ago),
    retryAfterMs: null,
    error: null,
    snippet: null,
    truncated: false,
    body: null,
    ...rest,
  };
}

function hint(kind: 'interval', value: number, overrides?: Partial<ActiveHint>): ActiveHint;
function hint(kind: 'one_shot' | 'pause', value: string, overrides?: Partial<ActiveHint>): ActiveHint;
function hint(
  kind: ActiveHint['kind'],
  value: number | string,
  overrides: Partial<ActiveHint> = {},
): ActiveHint {
  return {
    hintId: 'h1',
    kind,
    value,
    expiresAt: new Date(now + 50 * MIN).toISOString(),
    source: 'heuristic',
    reason: 'test',
    model: null,
    proposedAt: at(10 * MIN),
    ...overrides,
  } as ActiveHint;
}

/** A healthy endpoint every minute, bounds 15 s – 5 min, one run a minute for the last hour. */
function context(overrides: Partial<PlannerContext> = {}): PlannerContext {
  const recentRuns = Array.from({ length: 20 }, (_, i) => run({ ago: (i + 1) * MIN - 30_000 }));
  const base = plannerContext();
  return plannerContext({
    schedule: { kind: 'interval', intervalMs: MIN },
    bounds: { ...base.bounds, minIntervalMs: 15_000, maxIntervalMs: 5 * MIN },
    recentRuns,
    now: NOW,
    ...overrides,
  });
}

const planner = new HeuristicPlanner();
const calls = (ctx: PlannerContext) => planner.decide(ctx).toolCalls;

describe('HeuristicPlanner', () => {
  describe('When the endpoint is healthy (rule stable)', () => {
    it('should double the interval while the last hour had no failure', () => {
      const decision = planner.decide(context());
      expect(decision.rule).toBe('stable');
      expect(decision.toolCalls).toEqual([
        {
          name: 'propose_interval',
          arguments: expect.objectContaining({ intervalMs: 2 * MIN, ttlMinutes: 60 }),
        },
      ]);
    });

    it('should stop at maxIntervalMs', () => {
      const bounds = { ...context().bounds, maxIntervalMs: 3 * MIN };
      expect(calls(context({ bounds, activeHints: [hint('interval', 2 * MIN)] }))).toEqual([
        { name: 'propose_interval', arguments: expect.objectContaining({ intervalMs: 3 * MIN }) },
      ]);
      expect(calls(context({ bounds, activeHints: [hint('interval', 3 * MIN)] }))).toEqual([]);
    });

    it('should stop at 4× the baseline even when maxIntervalMs allows more', () => {
      expect(calls(context({ activeHints: [hint('interval', 3 * MIN)] }))).toEqual([
        { name: 'propose_interval', arguments: expect.objectContaining({ intervalMs: 4 * MIN }) },
      ]);
      expect(calls(context({ activeHints: [hint('interval', 4 * MIN)] }))).toEqual([]);
    });

    it('should renew the ceiling hint when it would lapse within half its life', () => {
      const expiring = hint('interval', 4 * MIN, { expiresAt: new Date(now + 10 * MIN).toISOString() });
      expect(calls(context({ activeHints: [expiring] }))).toEqual([
        {
          name: 'propose_interval',
          arguments: expect.objectContaining({ intervalMs: 4 * MIN, ttlMinutes: 60 }),
        },
      ]);
    });

    it('should stretch to 4× the baseline when the user set no maxIntervalMs', () => {
      const ctx = context({
        bounds: { ...context().bounds, maxIntervalMs: null },
        activeHints: [hint('interval', 3 * MIN)],
      });
      expect(calls(ctx)).toEqual([
        { name: 'propose_interval', arguments: expect.objectContaining({ intervalMs: 4 * MIN }) },
      ]);
    });

    it('should not stretch after a failure within the hour', () => {
      const ctx = context({ health: { ...context().health, successRate1h: 0.95 } });
      expect(planner.decide(ctx).rule).toBe('no_change');
      expect(calls(ctx)).toEqual([]);
    });

    it('should not stretch on fewer than 3 runs in the hour', () => {
      const ctx = context({
        health: { ...context().health, latency1h: { runs: 2, p50Ms: 100, p95Ms: 100 } },
      });
      expect(calls(ctx)).toEqual([]);
    });
  });

  describe('When the target fails (rule failure_streak)', () => {
    const failing = (streak: number) => {
      const runs = context().recentRuns.map((r, i) =>
        i < streak ? { ...r, status: 'failed' as const, httpStatus: 500 } : r,
      );
      return context({
        recentRuns: runs,
        health: { ...context().health, failureStreak: streak, successRate1h: 0.9 },
      });
    };

    it('should start the governor backoff from a quarter of the schedule, replacing a stretching hint', () => {
      const decision = planner.decide({ ...failing(1), activeHints: [hint('interval', 5 * MIN)] });
      expect(decision.rule).toBe('failure_streak');
      expect(decision.toolCalls).toEqual([
        {
          name: 'propose_interval',
          arguments: expect.objectContaining({ intervalMs: 15_000, ttlMinutes: 30 }),
        },
      ]);
    });

    it('should add no backoff of its own while the retry hint is in force', () => {
      const decision = planner.decide({ ...failing(4), activeHints: [hint('interval', 15_000)] });
      expect(decision.rule).toBe('failure_streak');
      expect(decision.toolCalls).toEqual([]);
      expect(decision.summary).toContain('4 in a row');
    });

    it('should not retry sooner than minIntervalMs', () => {
      const ctx = { ...failing(1), bounds: { ...context().bounds, minIntervalMs: 40_000 } };
      expect(calls(ctx)).toEqual([
        { name: 'propose_interval', arguments: expect.objectContaining({ intervalMs: 40_000 }) },
      ]);
    });

    it('should only clear a stretching hint when minIntervalMs is the schedule itself', () => {
      const ctx = {
        ...failing(1),
        bounds: { ...context().bounds, minIntervalMs: MIN },
        activeHints: [hint('interval', 5 * MIN)],
      };
      expect(calls(ctx)).toEqual([{ name: 'clear_hints', arguments: expect.any(Object) }]);
    });

    it('should treat a timeout as a failure', () => {
      const runs = context().recentRuns.map((r, i) => (i === 0 ? { ...r, status: 'timeout' as const } : r));
      expect(planner.decide(context({ recentRuns: runs })).rule).toBe('failure_streak');
    });
  });

  describe('When the target recovers (rule recovery)', () => {
    const recovered = (hints: ActiveHint[]) => {
      const runs = context().recentRuns.map((r, i) => (i === 1 ? { ...r, status: 'failed' as const } : r));
      return context({
        recentRuns: runs,
        activeHints: hints,
        health: { ...context().health, successRate1h: 0.9 },
      });
    };

    it('should clear the hints and hold the schedule for two hours', () => {
      const decision = planner.decide(recovered([hint('interval', 15_000)]));
      expect(decision.rule).toBe('recovery');
      expect(decision.toolCalls).toEqual([
        { name: 'clear_hints', arguments: expect.any(Object) },
        {
          name: 'propose_interval',
          arguments: expect.objectContaining({ intervalMs: MIN, ttlMinutes: 120 }),
        },
      ]);
    });

    it('should hold the schedule when no hint is in force', () => {
      expect(calls(recovered([]))).toEqual([
        { name: 'propose_interval', arguments: expect.objectContaining({ intervalMs: MIN }) },
      ]);
    });
  });

  describe('While a recovery hold is in force (rule hold)', () => {
    it('should not stretch a healthy endpoint', () => {
      const decision = planner.decide(context({ activeHints: [hint('interval', MIN)] }));
      expect(decision.rule).toBe('hold');
      expect(decision.toolCalls).toEqual([]);
    });

    it('should stretch again once it has expired', () => {
      const expired = hint('interval', MIN, { expiresAt: new Date(now - 1).toISOString() });
      expect(planner.decide(context({ activeHints: [expired] })).rule).toBe('stable');
    });

    it('should not take a tighter hint for a hold', () => {
      expect(planner.decide(context({ activeHints: [hint('interval', 15_000)] })).rule).toBe('stable');
    });
  });

  describe('When the target throttles (rule retry_after)', () => {
    it('should plan the next run exactly when Retry-After ends', () => {
      const throttled = run({ ago: 10_000, status: 'failed', httpStatus: 429, retryAfterMs: 120_000 });
      const ctx = context({ recentRuns: [throttled, ...context().recentRuns] });
      const decision = planner.decide(ctx);
      expect(decision.rule).toBe('retry_after');
      expect(decision.toolCalls).toEqual([
        {
          name: 'propose_next_time',
          arguments: expect.objectContaining({ at: new Date(now + 110_000).toISOString(), ttlMinutes: 12 }),
        },
      ]);
    });

    it('should not propose it twice', () => {
      const throttled = run({ ago: 10_000, status: 'failed', httpStatus: 503, retryAfterMs: 120_000 });
      const ctx = context({
        recentRuns: [throttled],
        activeHints: [hint('one_shot', new Date(now + 110_000).toISOString())],
      });
      expect(planner.decide(ctx).rule).toBe('retry_after');
      expect(calls(ctx)).toEqual([]);
    });

    it('should ignore a Retry-After that has already passed', () => {
      const throttled = run({ ago: 5 * MIN, status: 'failed', httpStatus: 429, retryAfterMs: 60_000 });
      expect(planner.decide(context({ recentRuns: [throttled] })).rule).toBe('failure_streak');
    });
  });

  describe('When the body suggests an interval (rule suggested_interval)', () => {
    const suggesting = (ms: number) =>
      context({
        recentRuns: [run({ ago: 1_000, body: { suggested_interval_ms: ms } }), ...context().recentRuns],
      });

    it('should follow it', () => {
      expect(calls(suggesting(30_000))).toEqual([
        {
          name: 'propose_interval',
          arguments: expect.objectContaining({ intervalMs: 30_000, ttlMinutes: 30 }),
        },
      ]);
    });

    it('should clamp it to the bounds', () => {
      expect(calls(suggesting(1_000))[0].arguments).toEqual(expect.objectContaining({ intervalMs: 15_000 }));
      expect(calls(suggesting(3_600_000))[0].arguments).toEqual(
        expect.objectContaining({ intervalMs: 5 * MIN }),
      );
    });
  });

  describe('When the body reports a queue (rule queue)', () => {
    const withDepths = (depths: number[], hints: ActiveHint[] = []) =>
      context({
        // newest first, one minute apart
        recentRuns: depths.map((depth, i) => run({ ago: i * MIN + 1_000, body: { queue_depth: depth } })),
        activeHints: hints,
      });

    it('should tighten as a draining backlog nears empty', () => {
      // 1,000 → 900 in a minute: empty in 9 minutes, polled 8 times over them.
      const decision = planner.decide(withDepths([900, 1_000]));
      expect(decision.rule).toBe('queue');
      expect(decision.toolCalls[0].arguments).toEqual(
        expect.objectContaining({ intervalMs: Math.round((9 * MIN) / 8) }),
      );
      expect(calls(withDepths([100, 1_000]))[0].arguments).toEqual(
        expect.objectContaining({ intervalMs: 15_000 }),
      );
    });

    it('should loosen towards the ceiling for a long drain', () => {
      expect(calls(withDepths([100_000, 100_100]))[0].arguments).toEqual(
        expect.objectContaining({ intervalMs: 5 * MIN }),
      );
    });

    it('should watch a growing backlog at the schedule pace', () => {
      const decision = planner.decide(withDepths([500, 100], [hint('interval', 5 * MIN)]));
      expect(decision.rule).toBe('queue');
      expect(decision.toolCalls).toEqual([{ name: 'clear_hints', arguments: expect.any(Object) }]);
    });

    it('should clear the hints once the backlog has drained', () => {
      const decision = planner.decide(withDepths([0, 40], [hint('interval', 15_000)]));
      expect(decision.rule).toBe('queue');
      expect(decision.toolCalls).toEqual([{ name: 'clear_hints', arguments: expect.any(Object) }]);
    });

    it('should leave an idle queue to the next rules', () => {
      expect(planner.decide(withDepths([0, 0, 0])).rule).toBe('stable');
    });
  });

  describe('When latency rises (rule latency)', () => {
    const slow = (ms: number, hints: ActiveHint[] = []) =>
      context({
        recentRuns: context().recentRuns.map((r, i) => (i < 5 ? { ...r, durationMs: ms } : r)),
        activeHints: hints,
      });

    it('should drop a stretching hint to watch at the schedule pace', () => {
      const decision = planner.decide(slow(300, [hint('interval', 5 * MIN)]));
      expect(decision.rule).toBe('latency');
      expect(decision.toolCalls).toEqual([{ name: 'clear_hints', arguments: expect.any(Object) }]);
    });

    it('should never widen', () => {
      const decision = planner.decide(slow(2_000));
      expect(decision.rule).toBe('latency');
      expect(decision.toolCalls).toEqual([]);
    });

    it('should keep a hint at or under the schedule', () => {
      const decision = planner.decide(slow(300, [hint('interval', 30_000)]));
      expect(decision.rule).toBe('latency');
      expect(decision.toolCalls).toEqual([]);
    });

    it('should ignore a small rise', () => {
      expect(planner.decide(slow(140)).rule).toBe('stable');
      const fast = context({
        recentRuns: context().recentRuns.map((r, i) => (i < 5 ? { ...r, durationMs: 40 } : r)),
        health: { ...context().health, latency24h: { runs: 1440, p50Ms: 20, p95Ms: 30 } },
      });
      expect(planner.decide(fast).rule).toBe('stable');
    });
  });

  describe('When a sibling endpoint fails (rule sibling_failing)', () => {
    const withSibling = (
      status: 'success' | 'failed' | 'timeout',
      finishedAgo: number,
      hints: ActiveHint[] = [],
    ) =>
      context({
        siblings: [
          {
            endpointId: 'e2',
            name: 'database',
            description: null,
            lastStatus: status,
            lastHttpStatus: status === 'failed' ? 500 : null,
            lastFinishedAt: at(finishedAgo),
          },
        ],
        activeHints: hints,
      });

    it('should drop a stretching hint to watch at the schedule pace', () => {
      const decision = planner.decide(withSibling('failed', MIN, [hint('interval', 5 * MIN)]));
      expect(decision.rule).toBe('sibling_failing');
      expect(decision.toolCalls).toEqual([{ name: 'clear_hints', arguments: expect.any(Object) }]);
      expect(decision.summary).toContain('database');
    });

    it('should not stretch meanwhile', () => {
      const decision = planner.decide(withSibling('timeout', MIN));
      expect(decision.rule).toBe('sibling_failing');
      expect(decision.toolCalls).toEqual([]);
    });

    it('should ignore a healthy sibling or an old failure', () => {
      expect(planner.decide(withSibling('success', MIN)).rule).toBe('stable');
      expect(planner.decide(withSibling('failed', 20 * MIN)).rule).toBe('stable');
    });
  });

  describe('When a user hint is in force (rule user_hint)', () => {
    it('should stand back', () => {
      const decision = planner.decide(
        context({ activeHints: [hint('interval', 30_000, { source: 'api' })] }),
      );
      expect(decision.rule).toBe('user_hint');
      expect(decision.toolCalls).toEqual([]);
    });
  });

  describe('When the schedule is one-time (rule not_adaptable)', () => {
    it('should do nothing', () => {
      const decision = planner.decide(context({ schedule: { kind: 'once', runAt: NOW } }));
      expect(decision.rule).toBe('not_adaptable');
      expect(decision.toolCalls).toEqual([]);
    });
  });

  describe('Every call it makes', () => {
    it('should pass parseToolCall', async () => {
      const decisions = await Promise.all([
        planner.plan(context()),
        planner.plan(
          context({
            recentRuns: [
              run({ ago: 1_000, body: { queue_depth: 10 } }),
              run({ ago: MIN, body: { queue_depth: 20 } }),
            ],
          }),
        ),
        planner.plan(
          context({
            recentRuns: [run({ ago: 1_000, status: 'failed', httpStatus: 429, retryAfterMs: 60_000 })],
          }),
        ),
        planner.plan(context({ recentRuns: [run({ ago: 1_000, status: 'failed', httpStatus: 502 })] })),
        planner.plan(
          context({
            recentRuns: [run({ ago: 1_000 }), run({ ago: MIN, status: 'failed', httpStatus: 502 })],
            activeHints: [hint('interval', 15_000)],
          }),
        ),
      ]);
      const all = decisions.flatMap((d) => d.toolCalls);
      expect(all.length).toBe(6);
      for (const toolCall of all)
        expect(parseToolCall(toolCall)).toEqual(expect.objectContaining({ ok: true }));
      expect(decisions.every((d) => d.model === 'heuristic' && d.tokensIn === 0)).toBe(true);
    });
  });
});
