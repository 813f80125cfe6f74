import { simEndpointConfig, simulate } from './engine';
import { boundsOf, runScenario, shift } from './experiment';
import { auditRuns, AuditRun, reactions, stateChanges } from './metrics';
import { POLICIES } from './policies';
import { RESULTS_END, RESULTS_START, withResults } from './report';
import { backlogDepth, noise, Scenario, SCENARIOS } from './scenarios';

const MIN = 60_000;
const policy = (id: string) => POLICIES.find((p) => p.id === id)!;
const scenario = (id: string) => SCENARIOS.find((s) => s.id === id)!;

/** A short target: healthy for 30 min, down for 10, healthy again. */
const blip: Scenario = {
  id: 'blip',
  title: 'Blip',
  summary: '',
  description: 'test',
  durationMs: 60 * MIN,
  state: (t) => (t >= 30 * MIN && t < 40 * MIN ? 'down' : 'up'),
  severity: { up: 0, down: 1 },
  respond: (t) =>
    t >= 30 * MIN && t < 40 * MIN
      ? {
          status: 'failed',
          httpStatus: 503,
          latencyMs: 10,
          body: null,
          retryAfterMs: null,
          error: 'HTTP 503',
        }
      : {
          status: 'success',
          httpStatus: 200,
          latencyMs: 100,
          body: { ok: true },
          retryAfterMs: null,
          error: null,
        },
};

describe('Simulator', () => {
  describe('When run twice', () => {
    it('should give the same result', async () => {
      const first = await simulate(scenario('backlog'), policy('heuristic'));
      const second = await simulate(scenario('backlog'), policy('heuristic'));
      expect(second).toEqual(first);
      expect(first.analyses.length).toBeGreaterThan(0);
    });
  });

  describe('When no planner steers', () => {
    it('should call a steady target exactly once a minute, as the governor plans it', async () => {
      const result = await simulate(scenario('steady'), policy('static'));
      expect(result.runs).toHaveLength(24 * 60);
      expect(new Set(result.runs.slice(1).map((run) => run.gapMs))).toEqual(new Set([MIN]));
      expect(new Set(result.runs.map((run) => run.reason))).toEqual(new Set(['interval']));
      expect(result.analyses).toEqual([]);
    });

    it("should back off on failures with the governor's own backoff", async () => {
      const result = await simulate(blip, policy('static'));
      const down = result.runs.filter((run) => run.status === 'failed');
      expect(down.map((run) => run.gapMs)).toEqual([MIN, MIN, 2 * MIN, 4 * MIN]);
      expect(down.slice(2).every((run) => run.reason === 'backoff')).toBe(true);
    });
  });

  describe('When a planner steers', () => {
    it('should stretch a healthy endpoint and clear hints on a failure', async () => {
      const result = await simulate(blip, policy('heuristic'));
      const summaries = result.analyses.map((a) => a.summary.split(':')[0]);
      expect(summaries).toEqual(expect.arrayContaining(['stable', 'failure_streak', 'recovery']));
      expect(result.runs.some((run) => run.reason === 'hint:interval')).toBe(true);
    });

    it('should clamp and reject through the real decider, leaving no run outside bounds', async () => {
      const backlog = scenario('backlog');
      const result = await simulate(backlog, policy('scripted-llm'));
      const calls = result.analyses.flatMap((a) => a.toolCalls);
      expect(calls.some((c) => c.accepted && c.reason?.startsWith('clamped from 10000 to 15000'))).toBe(true);
      expect(calls.some((c) => !c.accepted && c.reason === 'ttlMinutes must be a number')).toBe(true);
      const bounds = boundsOf(simEndpointConfig(backlog));
      expect(auditRuns(result.runs, bounds, result.pauses, backlog.durationMs)).toEqual([]);
      expect(result.tokensIn).toBeGreaterThan(0);
    });
  });

  describe('The bounds audit', () => {
    const bounds = { minIntervalMs: 15_000, maxGapMs: 5 * MIN, aiMaxPauseMs: 24 * 60 * MIN };
    const run = (start: number, overrides: Partial<AuditRun> = {}): AuditRun => ({
      start,
      finish: start + 100,
      httpStatus: 200,
      retryAfterMs: null,
      ...overrides,
    });

    it('should find runs closer than minIntervalMs', () => {
      expect(auditRuns([run(0), run(10_000), run(70_000)], bounds, [], 2 * MIN)).toEqual([
        { at: 10_000, kind: 'below_min', gapMs: 10_000, limitMs: 15_000 },
      ]);
    });

    it('should find gaps longer than the maximum, and a silence until the end', () => {
      expect(auditRuns([run(0), run(6 * MIN)], bounds, [], 7 * MIN)).toEqual([
        { at: 6 * MIN, kind: 'above_max', gapMs: 6 * MIN, limitMs: 5 * MIN },
      ]);
      expect(auditRuns([run(0)], bounds, [], 20 * MIN)).toEqual([
        { at: 20 * MIN, kind: 'above_max', gapMs: 20 * MIN, limitMs: 5 * MIN },
      ]);
      expect(auditRuns([run(0)], bounds, [], 4 * MIN)).toEqual([]);
    });

    it('should accept a longer gap that a Retry-After or an AI pause explains', () => {
      const throttled = run(0, { httpStatus: 429, retryAfterMs: 10 * MIN });
      expect(auditRuns([throttled, run(10 * MIN + 100)], bounds, [], 11 * MIN)).toEqual([]);
      expect(auditRuns([run(0), run(60 * MIN)], bounds, [{ from: MIN, until: 60 * MIN }], 61 * MIN)).toEqual(
        [],
      );
    });

    it('should find an AI pause longer than AI_MAX_PAUSE_MS', () => {
      const pause = { from: 0, until: 25 * 60 * MIN };
      expect(auditRuns([run(0), run(25 * 60 * MIN)], bounds, [pause], 25 * 60 * MIN + 1)).toEqual([
        { at: 0, kind: 'pause_too_long', gapMs: 25 * 60 * MIN, limitMs: 24 * 60 * MIN },
      ]);
    });

    it('should catch a simulated endpoint that breaks its bounds', async () => {
      const steady = scenario('steady');
      const tooFast = simEndpointConfig(steady, {
        schedule: { kind: 'interval', intervalMs: 10_000 },
        minIntervalMs: null,
      });
      const result = await simulate(steady, policy('static'), tooFast);
      const found = auditRuns(result.runs, boundsOf(simEndpointConfig(steady)), [], steady.durationMs);
      expect(found.length).toBe(result.runs.length - 1);
      expect(found[0]).toEqual(expect.objectContaining({ kind: 'below_min', gapMs: 10_000 }));
    });
  });

  describe('Reactions', () => {
    it('should time each change to the end of the first run after it, and count missed states', () => {
      const changes = [
        { at: 100, from: 'up', to: 'down' },
        { at: 150, from: 'down', to: 'up' },
        { at: 400, from: 'up', to: 'down' },
      ];
      const runs = [
        { start: 0, finish: 10 },
        { start: 200, finish: 230 },
        { start: 450, finish: 460 },
      ];
      expect(reactions(changes, runs, 1_000).map((r) => r.reactionMs)).toEqual([null, 80, 60]);
    });

    it('should find the state changes of a scenario', () => {
      expect(stateChanges(blip)).toEqual([
        { at: 30 * MIN, from: 'up', to: 'down' },
        { at: 40 * MIN, from: 'down', to: 'up' },
      ]);
      expect(stateChanges(shift(blip, 5_000))[0].at).toBe(30 * MIN + 5_000);
    });

    it('should pool onsets and settles over phases', async () => {
      const outcome = await runScenario(blip, [policy('static')], {
        phasesMs: [0, 20_000],
        sim: {
          analysisIntervalMs: 5 * MIN,
          analyzeOnOutcomeChange: true,
          recentRuns: 20,
          aiMaxPauseMs: 24 * 60 * MIN,
        },
        config: {},
      });
      const [metrics] = outcome.metrics;
      expect(metrics.seen).toEqual({ all: 4, onset: 2, settle: 2 });
      expect(metrics.outOfBounds).toBe(0);
      expect(metrics.onsetMeanS).not.toBeNull();
    });
  });

  describe('Scenarios', () => {
    it('should be pure functions of time', () => {
      expect(noise(1, 12_345)).toBe(noise(1, 12_999));
      expect(noise(1, 12_345)).not.toBe(noise(1, 13_000));
      for (const s of SCENARIOS) expect(s.respond(9 * 3_600_000)).toEqual(s.respond(9 * 3_600_000));
    });

    it('should drain the morning backlog by about 09:45', () => {
      expect(backlogDepth(6 * 3_600_000 - 1)).toBe(0);
      expect(backlogDepth(7 * 3_600_000)).toBe(6_600);
      expect(backlogDepth(9.74 * 3_600_000)).toBeGreaterThan(0);
      expect(backlogDepth(9.76 * 3_600_000)).toBe(0);
    });
  });

  describe('The doc', () => {
    it('should replace only the generated section', () => {
      const doc = `# Title\n\nintro\n\n${RESULTS_START}\nold\n${RESULTS_END}\n\n## After\n`;
      expect(withResults(doc, 'new')).toBe(
        `# Title\n\nintro\n\n${RESULTS_START}\nnew\n${RESULTS_END}\n\n## After\n`,
      );
      expect(withResults('# Title\n', 'new')).toContain(`${RESULTS_START}\nnew\n${RESULTS_END}`);
    });
  });
});
