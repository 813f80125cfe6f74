import { ActiveHint } from '../endpoint/endpoint.state';
import { periodMs } from '../schedule/cadence';
import { Planner, PlannerContext, PlannerDecision, PlannerRun, ToolCallRequest } from './planner.types';

// The planner that runs without an LLM (no API key, or over the tenant's token budget):
// deterministic rules, documented in docs/adaptive-scheduling.md, speaking the same tools as
// the LLM. The first rule that applies decides. It never adds its own exponential backoff:
// the governor multiplies an interval hint by its backoff, so a hint only sets where it starts.

export const HEURISTIC_MODEL = 'heuristic';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Tunables of the rules; the defaults are what the ai-planner uses. */
export interface HeuristicOptions {
  /** Life of a hint that stretches a healthy endpoint. */
  stretchTtlMinutes: number;
  /** Life of a hint that reacts to something happening (latency, body signals). */
  reactTtlMinutes: number;
  /** The `stable` rule stretches to at most this multiple of the baseline (and `maxIntervalMs`). */
  maxStretchFactor: number;
  /** Stretch only after an hour without a failure, with at least this many runs in it. */
  minStableRuns: number;
  /** Latency counts as rising when the recent p50 exceeds the 24 h p50 by this ratio... */
  latencyRiseRatio: number;
  /** ...and by at least this many milliseconds. */
  latencyRiseMinMs: number;
  /** Successful runs the recent latency p50 is taken over. */
  latencyRecentRuns: number;
  /** A draining backlog is polled `drainPolls` times over its estimated time to empty. */
  drainPolls: number;
  /** While failing, the governor's backoff starts from this fraction of the schedule's period. */
  failureRetryFraction: number;
  /** After a recovery, the schedule's pace is held this long before stretching again. */
  recoveryHoldMinutes: number;
  /** A sibling whose last run failed within this long counts as failing. */
  siblingFailureMinutes: number;
}

export const DEFAULT_HEURISTIC_OPTIONS: HeuristicOptions = {
  stretchTtlMinutes: 60,
  reactTtlMinutes: 30,
  maxStretchFactor: 4,
  minStableRuns: 3,
  latencyRiseRatio: 1.5,
  latencyRiseMinMs: 50,
  latencyRecentRuns: 5,
  drainPolls: 8,
  failureRetryFraction: 0.25,
  recoveryHoldMinutes: 120,
  siblingFailureMinutes: 15,
};

/** Body fields read as a queue or backlog size, and as the target's own polling advice. */
export const QUEUE_FIELDS = ['queue_depth', 'queueDepth', 'backlog', 'pending', 'queue_length', 'queued'];
export const SUGGESTED_INTERVAL_FIELDS = ['suggested_interval_ms', 'suggestedIntervalMs'];

export type HeuristicRule =
  | 'not_adaptable'
  | 'user_hint'
  | 'retry_after'
  | 'failure_streak'
  | 'recovery'
  | 'suggested_interval'
  | 'queue'
  | 'latency'
  | 'sibling_failing'
  | 'hold'
  | 'stable'
  | 'no_change';

/** A decision plus the rule that made it (for tests and the simulator's report). */
export interface HeuristicDecision extends PlannerDecision {
  rule: HeuristicRule;
}

export class HeuristicPlanner implements Planner {
  private readonly options: HeuristicOptions;

  constructor(options: Partial<HeuristicOptions> = {}) {
    this.options = { ...DEFAULT_HEURISTIC_OPTIONS, ...options };
  }

  plan(context: PlannerContext): Promise<PlannerDecision> {
    return Promise.resolve(this.decide(context));
  }

  /** The same decision, synchronously. */
  decide(context: PlannerContext): HeuristicDecision {
    const facts = readFacts(context, this.options);
    for (const rule of RULES) {
      const outcome = rule(facts);
      if (outcome) return decision(outcome);
    }
    return decision({ rule: 'no_change', calls: [], summary: 'no rule applies: no change' });
  }
}

//////////////////////////////////////// Facts

interface Facts {
  ctx: PlannerContext;
  options: HeuristicOptions;
  now: number;
  /** The schedule's own period; null for a one-time schedule. */
  baselineMs: number | null;
  /** Never tighten below this (the user's minIntervalMs, at least 1 s). */
  floorMs: number;
  /**
   * Never propose beyond this: the user's maxIntervalMs (or `maxStretchFactor` × the baseline,
   * up to a day), or the schedule's own period when that is longer, as the decider clamps an
   * interval hint: a bound caps stretching, never makes a slow schedule run more often.
   */
  ceilingMs: number;
  /** The interval in force: the active interval hint, else the baseline. */
  currentMs: number;
  intervalHint: Extract<ActiveHint, { kind: 'interval' }> | undefined;
  latest: PlannerRun | undefined;
}

function readFacts(ctx: PlannerContext, options: HeuristicOptions): Facts {
  const now = Date.parse(ctx.now);
  const schedule = ctx.schedule;
  const baselineMs =
    schedule.kind === 'interval'
      ? schedule.intervalMs
      : schedule.kind === 'cron'
        ? safePeriod(() => periodMs(schedule, now))
        : null;
  const floorMs = Math.max(1_000, ctx.bounds.minIntervalMs ?? 0);
  const base = baselineMs ?? floorMs;
  const stretchLimit = ctx.bounds.maxIntervalMs ?? Math.min(base * options.maxStretchFactor, DAY);
  const ceilingMs = Math.max(floorMs, base, stretchLimit);
  const intervalHint = ctx.activeHints.find(
    (hint): hint is Extract<ActiveHint, { kind: 'interval' }> =>
      hint.kind === 'interval' && Date.parse(hint.expiresAt) > now,
  );
  return {
    ctx,
    options,
    now,
    baselineMs,
    floorMs,
    ceilingMs,
    currentMs: intervalHint?.value ?? base,
    intervalHint,
    latest: ctx.recentRuns[0],
  };
}

function safePeriod(read: () => number | null): number | null {
  try {
    return read();
  } catch {
    return null;
  }
}

//////////////////////////////////////// Rules, in order

interface Outcome {
  rule: HeuristicRule;
  calls: ToolCallRequest[];
  summary: string;
}

type Rule = (facts: Facts) => Outcome | null;

/** A one-time schedule has no cadence to adapt. */
const notAdaptable: Rule = ({ baselineMs }) =>
  baselineMs === null
    ? { rule: 'not_adaptable', calls: [], summary: 'one-time schedule: nothing to adapt' }
    : null;

/** A hint a user set through the API is in force: the user steers, the heuristic stands back. */
const userHint: Rule = ({ ctx, now }) =>
  ctx.activeHints.some((hint) => hint.source === 'api' && Date.parse(hint.expiresAt) > now)
    ? { rule: 'user_hint', calls: [], summary: "a user's hint is in force: no change" }
    : null;

/** A 429/503 with Retry-After: run again exactly when the target said, not before. */
const retryAfter: Rule = ({ ctx, now, latest }) => {
  if (!latest || (latest.httpStatus !== 429 && latest.httpStatus !== 503)) return null;
  if (latest.retryAfterMs === null || latest.retryAfterMs <= 0) return null;
  const resume = Date.parse(latest.finishedAt) + latest.retryAfterMs;
  if (!(resume > now)) return null;
  const at = new Date(resume).toISOString();
  const summary = `HTTP ${latest.httpStatus} with Retry-After ${seconds(latest.retryAfterMs)}: next run at ${at}`;
  const planned = ctx.activeHints.some((hint) => hint.kind === 'one_shot' && hint.value === at);
  if (planned) return { rule: 'retry_after', calls: [], summary };
  const ttlMinutes = Math.ceil((resume - now) / MINUTE) + 10;
  return {
    rule: 'retry_after',
    calls: [
      call('propose_next_time', {
        at,
        ttlMinutes,
        reason: `target asked to retry after ${seconds(latest.retryAfterMs)}`,
      }),
    ],
    summary,
  };
};

/**
 * Failing: retry soon to confirm, then let the governor back off. An interval hint below the
 * schedule is where the governor's doubling starts (hint × 2^(n−1), capped at maxIntervalMs),
 * so a blip is confirmed within seconds and a long outage still reaches the cap.
 */
const failureStreak: Rule = (facts) => {
  const { ctx, latest, options } = facts;
  if (!latest || latest.status === 'success') return null;
  const baselineMs = facts.baselineMs as number;
  const retryMs = clamp(
    baselineMs * options.failureRetryFraction,
    facts.floorMs,
    Math.min(baselineMs, facts.ceilingMs),
  );
  // A retry the hint would not live to see: back off from the schedule instead.
  const startMs = retryMs > options.reactTtlMinutes * MINUTE ? baselineMs : retryMs;
  const why = `failing (${ctx.health.failureStreak} in a row, last ${describeRun(latest)})`;
  return propose(
    facts,
    'failure_streak',
    startMs,
    options.reactTtlMinutes,
    `${why}: backing off from ${seconds(startMs)}`,
  );
};

/**
 * Up again after a failure: back to the schedule, and hold its pace until the target has stayed
 * up for `recoveryHoldMinutes`. Applies once per recovery: a planner hint proposed since the
 * first success means it was answered (even when that analysis came a run or two late).
 */
const recovery: Rule = (facts) => {
  const { ctx, latest, options, now } = facts;
  if (!latest || latest.status !== 'success') return null;
  const failed = ctx.recentRuns.findIndex((run) => run.status !== 'success');
  if (failed < 1) return null;
  const upSince = Date.parse(ctx.recentRuns[failed - 1].finishedAt);
  const ttlMinutes = Math.ceil(options.recoveryHoldMinutes - (now - upSince) / MINUTE);
  if (ttlMinutes <= 0) return null;
  if (machineHints(ctx).some((hint) => Date.parse(hint.proposedAt) >= upSince)) return null;
  const baselineMs = facts.baselineMs as number;
  const clear =
    machineHints(ctx).length > 0 ? [call('clear_hints', { reason: 'recovered after a failure' })] : [];
  // Holding matters only where `stable` could stretch, and an interval hint can say the pace.
  const holdMs = Math.max(baselineMs, facts.floorMs);
  if (holdMs >= stretchCeiling(facts)) {
    if (clear.length === 0) return null;
    return { rule: 'recovery', calls: clear, summary: 'recovered after a failure: back to the schedule' };
  }
  const reason = `recovered after a failure: every ${seconds(holdMs)} for ${ttlMinutes} min`;
  return {
    rule: 'recovery',
    calls: [...clear, call('propose_interval', { intervalMs: holdMs, ttlMinutes, reason })],
    summary: reason,
  };
};

/** The target says how often to poll it (`suggested_interval_ms`): follow it within bounds. */
const suggestedInterval: Rule = (facts) => {
  const suggested = numberField(facts.latest?.body, SUGGESTED_INTERVAL_FIELDS);
  if (!facts.latest || facts.latest.status !== 'success' || suggested === null || suggested <= 0) return null;
  const target = clamp(suggested, facts.floorMs, facts.ceilingMs);
  return propose(
    facts,
    'suggested_interval',
    target,
    facts.options.reactTtlMinutes,
    `target suggests polling every ${seconds(suggested)}`,
  );
};

/**
 * A queue or backlog in the body. Growing or flat: watch it at the schedule's pace. Draining:
 * poll `drainPolls` times over the estimated time to empty, so polling tightens as the end
 * nears. Empty after a backlog: clear the hints. Empty and idle: the next rules decide.
 */
const queue: Rule = (facts) => {
  const { ctx, latest, options } = facts;
  if (!latest || latest.status !== 'success') return null;
  const depth = numberField(latest.body, QUEUE_FIELDS);
  if (depth === null || depth < 0) return null;
  const earlier = ctx.recentRuns
    .slice(1)
    .find((run) => run.status === 'success' && numberField(run.body, QUEUE_FIELDS) !== null);
  const before = earlier ? (numberField(earlier.body, QUEUE_FIELDS) as number) : null;

  if (depth === 0) {
    if (before === null || before === 0 || machineHints(ctx).length === 0) return null;
    return {
      rule: 'queue',
      calls: [call('clear_hints', { reason: `backlog drained (was ${before})` })],
      summary: `backlog drained (was ${before}): back to the schedule`,
    };
  }
  const elapsed = earlier ? Date.parse(latest.startedAt) - Date.parse(earlier.startedAt) : 0;
  if (before !== null && before > depth && elapsed > 0) {
    const etaMs = depth / ((before - depth) / elapsed);
    const target = clamp(etaMs / options.drainPolls, facts.floorMs, facts.ceilingMs);
    return propose(
      facts,
      'queue',
      target,
      options.reactTtlMinutes,
      `backlog ${depth} draining, empty in about ${seconds(etaMs)}`,
    );
  }
  const target = facts.baselineMs as number;
  const trend = before === null ? 'seen' : before < depth ? `growing from ${before}` : 'not draining';
  return propose(facts, 'queue', target, options.reactTtlMinutes, `backlog ${depth} ${trend}: watching it`);
};

/** Latency well above its 24 h median: something is happening, so watch at the schedule's pace. */
const latency: Rule = (facts) => {
  const { ctx, options } = facts;
  const recent = ctx.recentRuns
    .filter((run) => run.status === 'success')
    .slice(0, options.latencyRecentRuns)
    .map((run) => run.durationMs)
    .sort((a, b) => a - b);
  const dayP50 = ctx.health.latency24h.p50Ms;
  if (recent.length < Math.min(3, options.latencyRecentRuns) || dayP50 === null || dayP50 <= 0) return null;
  const recentP50 = recent[Math.ceil(recent.length / 2) - 1];
  if (recentP50 < dayP50 * options.latencyRiseRatio || recentP50 - dayP50 < options.latencyRiseMinMs)
    return null;
  return watch(facts, 'latency', `latency p50 ${recentP50} ms vs ${dayP50} ms over 24 h`);
};

/** Another endpoint of the job is failing: trouble may be on its way here, so do not look away. */
const siblingFailing: Rule = (facts) => {
  const since = facts.now - facts.options.siblingFailureMinutes * MINUTE;
  const failing = facts.ctx.siblings.filter(
    (sibling) =>
      (sibling.lastStatus === 'failed' || sibling.lastStatus === 'timeout') &&
      sibling.lastFinishedAt !== null &&
      Date.parse(sibling.lastFinishedAt) > since,
  );
  if (failing.length === 0) return null;
  return watch(facts, 'sibling_failing', `sibling ${failing.map((s) => s.name).join(', ')} failing`);
};

/** A planner hint at the schedule's pace is in force (a recovery hold): do not stretch yet. */
const hold: Rule = ({ intervalHint, baselineMs }) => {
  if (!intervalHint || !isMachine(intervalHint) || !near(intervalHint.value, baselineMs as number))
    return null;
  return {
    rule: 'hold',
    calls: [],
    summary: `every ${seconds(intervalHint.value)} until ${intervalHint.expiresAt}: not stretching`,
  };
};

/** Healthy for the whole window: double the interval, up to the ceiling. */
const stable: Rule = (facts) => {
  const { ctx, options, latest } = facts;
  const { successRate1h, latency1h } = ctx.health;
  if (!latest || latest.status !== 'success') return null;
  if (successRate1h !== 1 || latency1h.runs < options.minStableRuns) return null;
  const runs = latency1h.runs;
  const why = `no failure in the last hour (${runs} runs)`;
  const baselineMs = facts.baselineMs as number;
  const stretchCeilingMs = stretchCeiling(facts);
  if (stretchCeilingMs <= baselineMs) {
    return propose(facts, 'stable', baselineMs, options.stretchTtlMinutes, `${why}: cannot stretch`);
  }
  const target = clamp(facts.currentMs * 2, facts.floorMs, Math.max(facts.floorMs, stretchCeilingMs));
  if (target <= facts.currentMs) {
    return facts.intervalHint
      ? keepOrRefresh(facts, 'stable', options.stretchTtlMinutes, `${why}: at the ceiling`)
      : { rule: 'stable', calls: [], summary: `${why}: at the ceiling` };
  }
  return propose(facts, 'stable', target, options.stretchTtlMinutes, `${why}: stretching`);
};

const RULES: Rule[] = [
  notAdaptable,
  userHint,
  retryAfter,
  failureStreak,
  recovery,
  suggestedInterval,
  queue,
  latency,
  siblingFailing,
  hold,
  stable,
];

//////////////////////////////////////// Helpers

/** How far `stable` may stretch: a few periods, and never beyond the ceiling. */
function stretchCeiling(facts: Facts): number {
  return Math.min(facts.ceilingMs, (facts.baselineMs as number) * facts.options.maxStretchFactor);
}

/**
 * Proposes `targetMs` unless the interval in force is already within 5% of it; the baseline
 * itself is reached by clearing hints.
 */
function propose(
  facts: Facts,
  rule: HeuristicRule,
  targetMs: number,
  ttlMinutes: number,
  why: string,
): Outcome {
  const target = Math.round(targetMs);
  if (near(facts.currentMs, target) && (facts.intervalHint || target === facts.baselineMs)) {
    return facts.intervalHint
      ? keepOrRefresh(facts, rule, ttlMinutes, why)
      : { rule, calls: [], summary: `${why}: already every ${seconds(target)}` };
  }
  if (target === facts.baselineMs && machineHints(facts.ctx).length > 0) {
    return { rule, calls: [call('clear_hints', { reason: why })], summary: `${why}: back to the schedule` };
  }
  return {
    rule,
    calls: [call('propose_interval', { intervalMs: target, ttlMinutes, reason: why })],
    summary: `${why}: every ${seconds(target)}`,
  };
}

/** The hint in force already says this: re-propose it only when it would lapse within half its life. */
function keepOrRefresh(facts: Facts, rule: HeuristicRule, ttlMinutes: number, why: string): Outcome {
  const hint = facts.intervalHint;
  if (!hint) return { rule, calls: [], summary: why };
  const left = Date.parse(hint.expiresAt) - facts.now;
  if (left > (ttlMinutes * MINUTE) / 2)
    return { rule, calls: [], summary: `${why}: keeping every ${seconds(hint.value)}` };
  return {
    rule,
    calls: [call('propose_interval', { intervalMs: hint.value, ttlMinutes, reason: why })],
    summary: `${why}: renewing every ${seconds(hint.value)}`,
  };
}

/** At the schedule's pace or tighter: drop a stretching hint, keep one at or under the schedule. */
function watch(facts: Facts, rule: HeuristicRule, why: string): Outcome {
  const baselineMs = facts.baselineMs as number;
  const hint = facts.intervalHint;
  if (hint && hint.value <= baselineMs)
    return { rule, calls: [], summary: `${why}: watching every ${seconds(hint.value)}` };
  return propose(facts, rule, baselineMs, facts.options.reactTtlMinutes, `${why}: watching`);
}

/** Hints a planner may clear: not a user's. */
function machineHints(ctx: PlannerContext): ActiveHint[] {
  const now = Date.parse(ctx.now);
  return ctx.activeHints.filter((hint) => isMachine(hint) && Date.parse(hint.expiresAt) > now);
}

/** Within 5%: a proposal this close to the interval in force is not repeated. */
function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= 0.05 * b;
}

function isMachine(hint: ActiveHint): boolean {
  return hint.source !== 'api';
}

function numberField(body: unknown, fields: readonly string[]): number | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  for (const field of fields) {
    const value = (body as Record<string, unknown>)[field];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  }
  return null;
}

function call(name: string, args: Record<string, unknown>): ToolCallRequest {
  return { name, arguments: args };
}

function clamp(value: number, min: number, max: number): number {
  return Math.round(Math.min(Math.max(value, min), max));
}

function seconds(ms: number): string {
  if (ms >= 2 * MINUTE) return `${Math.round(ms / MINUTE)} min`;
  return `${Math.round(ms / 1000)} s`;
}

function describeRun(run: PlannerRun): string {
  return run.httpStatus !== null ? `HTTP ${run.httpStatus}` : (run.error ?? run.status);
}

function decision(outcome: Outcome): HeuristicDecision {
  return {
    rule: outcome.rule,
    toolCalls: outcome.calls,
    summary: `${outcome.rule}: ${outcome.summary}`,
    model: HEURISTIC_MODEL,
    tokensIn: 0,
    tokensOut: 0,
  };
}
