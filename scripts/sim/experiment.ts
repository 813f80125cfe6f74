import { DEFAULT_GOVERNOR_OPTIONS } from '@cronicorn/domain';
import { EndpointConfig } from '@cronicorn/events';
import { DEFAULT_SIM_OPTIONS, Policy, simEndpointConfig, SimOptions, SimResult, simulate } from './engine';
import { auditRuns, mean, reactions, stateChanges, Violation } from './metrics';
import { Scenario } from './scenarios';

// Every scenario under every policy, at several phases. How soon a change is seen depends on
// where it falls between two runs; one phase would report luck, so each scenario is run with
// the target shifted by a spread of offsets and the reactions are pooled.

const MINUTE = 60_000;

export interface ExperimentOptions {
  /** Offsets of the target's timeline (ms); the first one is plotted. */
  phasesMs: readonly number[];
  sim: SimOptions;
  /** Endpoint settings every policy runs with, over `simEndpointConfig`'s. */
  config: Partial<EndpointConfig>;
}

export const DEFAULT_PHASES_MS: readonly number[] = Array.from(
  { length: 8 },
  (_, i) => i * 37_500 + i * 1_009,
);

export const DEFAULT_EXPERIMENT: ExperimentOptions = {
  phasesMs: DEFAULT_PHASES_MS,
  sim: DEFAULT_SIM_OPTIONS,
  config: {},
};

/** Numbers for one scenario and policy, over all phases. Durations in seconds. */
export interface PolicyMetrics {
  policy: string;
  /** Calls per simulated day, mean over phases. */
  calls: number;
  changes: number;
  /** Mean time to see a change (all changes, every phase); null when nothing changes. */
  reactionMeanS: number | null;
  /** The same, for changes to a worse state (something starts happening). */
  onsetMeanS: number | null;
  /** The same, for changes to a better state (recovered, drained, peak over). */
  settleMeanS: number | null;
  reactionMaxS: number | null;
  /** How many reactions (over all phases) each mean is taken over. */
  seen: { all: number; onset: number; settle: number };
  /** State changes no run saw, over all phases. */
  missed: number;
  /** Calls per day made while the target was not calm (down, busy, backlog), mean over phases. */
  troubleCalls: number;
  /** Runs outside the bounds, over all phases (expected: 0). */
  outOfBounds: number;
  violations: Violation[];
  analyses: number;
  toolCalls: { accepted: number; clamped: number; rejected: number };
  tokensIn: number;
  tokensOut: number;
}

export interface ScenarioOutcome {
  scenario: Scenario;
  metrics: PolicyMetrics[];
  /** The first phase's runs per policy, for the plots. */
  plotted: SimResult[];
}

export async function runScenario(
  scenario: Scenario,
  policies: readonly Policy[],
  options: ExperimentOptions = DEFAULT_EXPERIMENT,
): Promise<ScenarioOutcome> {
  const metrics: PolicyMetrics[] = [];
  const plotted: SimResult[] = [];
  for (const policy of policies) {
    const results: SimResult[] = [];
    const pooled: { ms: number | null; onset: boolean }[] = [];
    let outOfBounds = 0;
    const violations: Violation[] = [];
    let changesPerPhase = 0;
    let troubleCalls = 0;
    const severity = (state: string) => scenario.severity[state] ?? 0;
    for (const phase of options.phasesMs) {
      const shifted = shift(scenario, phase);
      const config = simEndpointConfig(shifted, { ...options.config, ...policy.config });
      const result = await simulate(shifted, policy, config, options.sim);
      results.push(result);
      const changes = stateChanges(shifted);
      changesPerPhase = changes.length;
      for (const reaction of reactions(changes, result.runs, shifted.durationMs)) {
        const onset = severity(reaction.change.to) > severity(reaction.change.from);
        pooled.push({ ms: reaction.reactionMs, onset });
      }
      troubleCalls += result.runs.filter((run) => severity(shifted.state(run.start)) > 0).length;
      const found = auditRuns(result.runs, boundsOf(config), result.pauses, shifted.durationMs);
      outOfBounds += found.length;
      violations.push(...found.slice(0, 5));
    }
    plotted.push(results[0]);
    const seconds = (values: (number | null)[]) => {
      const seen = values.filter((v): v is number => v !== null);
      const m = mean(seen);
      return m === null ? null : round(m / 1000);
    };
    const all = pooled.map((p) => p.ms);
    const seen = all.filter((v): v is number => v !== null);
    const calls = results.flatMap((r) => r.analyses.flatMap((a) => a.toolCalls));
    const n = results.length;
    metrics.push({
      policy: policy.id,
      calls: round(mean(results.map((r) => r.runs.length)) ?? 0),
      changes: changesPerPhase,
      reactionMeanS: seconds(all),
      onsetMeanS: seconds(pooled.filter((p) => p.onset).map((p) => p.ms)),
      settleMeanS: seconds(pooled.filter((p) => !p.onset).map((p) => p.ms)),
      reactionMaxS: seen.length === 0 ? null : round(Math.max(...seen) / 1000),
      seen: {
        all: seen.length,
        onset: pooled.filter((p) => p.onset && p.ms !== null).length,
        settle: pooled.filter((p) => !p.onset && p.ms !== null).length,
      },
      missed: all.length - seen.length,
      troubleCalls: round(troubleCalls / options.phasesMs.length),
      outOfBounds,
      violations,
      analyses: round(results.reduce((s, r) => s + r.analyses.length, 0) / n),
      toolCalls: {
        accepted: round(calls.filter((c) => c.accepted).length / n),
        clamped: round(calls.filter((c) => c.accepted && c.reason?.startsWith('clamped')).length / n),
        rejected: round(calls.filter((c) => !c.accepted).length / n),
      },
      tokensIn: round(results.reduce((s, r) => s + r.tokensIn, 0) / n),
      tokensOut: round(results.reduce((s, r) => s + r.tokensOut, 0) / n),
    });
  }
  return { scenario, metrics, plotted };
}

/** The audit's limits for an endpoint configuration. */
export function boundsOf(config: EndpointConfig) {
  const period = config.schedule.kind === 'interval' ? config.schedule.intervalMs : 0;
  return {
    minIntervalMs: config.minIntervalMs,
    maxGapMs: Math.max(config.maxIntervalMs ?? DEFAULT_GOVERNOR_OPTIONS.defaultMaxBackoffMs, period),
    aiMaxPauseMs: DEFAULT_SIM_OPTIONS.aiMaxPauseMs,
  };
}

/** The scenario with its target running `phaseMs` later (the first `phaseMs` repeat t = 0). */
export function shift(scenario: Scenario, phaseMs: number): Scenario {
  if (phaseMs === 0) return scenario;
  const back = (t: number) => Math.max(0, t - phaseMs);
  return { ...scenario, state: (t) => scenario.state(back(t)), respond: (t) => scenario.respond(back(t)) };
}

/** Totals over scenarios for one policy: calls summed, reactions pooled over every change seen. */
export interface PolicyTotals {
  policy: string;
  calls: number;
  callsVsStaticPct: number | null;
  reactionMeanS: number | null;
  onsetMeanS: number | null;
  settleMeanS: number | null;
  missed: number;
  troubleCalls: number;
  outOfBounds: number;
}

export function totals(outcomes: readonly ScenarioOutcome[], policies: readonly Policy[]): PolicyTotals[] {
  const staticCalls = sum(outcomes.map((o) => o.metrics.find((m) => m.policy === 'static')?.calls ?? 0));
  return policies.map((policy) => {
    const rows = outcomes.map((o) => o.metrics.find((m) => m.policy === policy.id) as PolicyMetrics);
    const weighted = (pick: (m: PolicyMetrics) => number | null, weight: (m: PolicyMetrics) => number) => {
      const parts = rows.filter((m) => pick(m) !== null && weight(m) > 0);
      const w = sum(parts.map(weight));
      return w === 0 ? null : round(sum(parts.map((m) => (pick(m) as number) * weight(m))) / w);
    };
    const calls = sum(rows.map((m) => m.calls));
    return {
      policy: policy.id,
      calls: round(calls),
      callsVsStaticPct: staticCalls === 0 ? null : round((100 * (calls - staticCalls)) / staticCalls),
      reactionMeanS: weighted(
        (m) => m.reactionMeanS,
        (m) => m.seen.all,
      ),
      onsetMeanS: weighted(
        (m) => m.onsetMeanS,
        (m) => m.seen.onset,
      ),
      settleMeanS: weighted(
        (m) => m.settleMeanS,
        (m) => m.seen.settle,
      ),
      missed: sum(rows.map((m) => m.missed)),
      troubleCalls: round(sum(rows.map((m) => m.troubleCalls))),
      outOfBounds: sum(rows.map((m) => m.outOfBounds)),
    };
  });
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const round = (value: number) => Math.round(value * 10) / 10;

export const SWEEP_MAX_INTERVALS_MS: readonly number[] = [2 * MINUTE, 5 * MINUTE, 10 * MINUTE];
