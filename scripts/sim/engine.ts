import {
  activeHints,
  applyToolCalls,
  decideDue,
  endpointConfigWithDefaults,
  endpointDecider,
  EndpointState,
  GovernedEndpoint,
  PlannerContext,
  PlannerRun,
  plannerHealth,
  planNextRun,
  PlanReason,
  Planner,
  PlannerSource,
  RunHistory,
  RunPlan,
  toPlannerRun,
} from '@cronicorn/domain';
import { EndpointConfig, PlannerToolCall, RunFinished } from '@cronicorn/events';
import { Scenario } from './scenarios';

// A virtual-time scheduler loop around the real governor (`planNextRun`, `decideDue`) and the
// real endpoint decider (hints are validated and clamped by `validateHint` as in production).
// No clock, no sleeps: time jumps from one due plan or finishing run to the next.

export const SIM_START = Date.parse('2025-03-03T00:00:00.000Z');
const MINUTE = 60_000;

/** A policy: the governor alone (`planner: null`), or the governor steered by a planner. */
export interface Policy {
  id: string;
  label: string;
  /** A fresh planner per run of the simulation (a planner may keep state). */
  planner: (() => Planner) | null;
  source: PlannerSource;
  /** Endpoint settings of this policy over the shared ones (a reference schedule). */
  config?: Partial<EndpointConfig>;
}

export interface SimOptions {
  /**
   * `AI_ANALYSIS_INTERVAL_MS`: at most one analysis per endpoint per this long. A run that
   * finishes sooner is not dropped: the analysis happens when the interval is up (trailing
   * debounce), on the runs known by then...
   */
  analysisIntervalMs: number;
  /** ...except that a run whose outcome flipped (success ↔ failure) is analysed at once. */
  analyzeOnOutcomeChange: boolean;
  /** Runs shown to the planner. */
  recentRuns: number;
  aiMaxPauseMs: number;
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  analysisIntervalMs: 5 * MINUTE,
  analyzeOnOutcomeChange: true,
  recentRuns: 20,
  aiMaxPauseMs: 24 * 60 * MINUTE,
};

/** The endpoint every policy runs with: what a careful user configures. */
export function simEndpointConfig(
  scenario: Scenario,
  overrides: Partial<EndpointConfig> = {},
): EndpointConfig {
  return endpointConfigWithDefaults({
    name: scenario.id,
    description: scenario.description,
    url: `https://${scenario.id}.target.example/status`,
    schedule: { kind: 'interval', intervalMs: MINUTE },
    minIntervalMs: 15_000,
    maxIntervalMs: 5 * MINUTE,
    timeoutMs: 10_000,
    ...overrides,
  });
}

export interface SimRun {
  /** Virtual ms since the scenario's start. */
  start: number;
  finish: number;
  status: RunFinished['data']['status'];
  httpStatus: number | null;
  durationMs: number;
  retryAfterMs: number | null;
  /** Why the governor planned this run. */
  reason: PlanReason;
  /** Since the previous run's start; null for the first run. */
  gapMs: number | null;
}

export interface SimAnalysis {
  at: number;
  summary: string;
  toolCalls: PlannerToolCall[];
}

/** An AI pause as accepted, for the bounds audit. */
export interface SimPause {
  from: number;
  until: number;
}

export interface SimResult {
  scenario: string;
  policy: string;
  durationMs: number;
  runs: SimRun[];
  analyses: SimAnalysis[];
  pauses: SimPause[];
  /** Runs the governor skipped (overlap or catch-up). */
  skipped: number;
  tokensIn: number;
  tokensOut: number;
}

interface InFlight {
  start: number;
  finish: number;
  runId: string;
  reason: PlanReason;
  scheduledFor: number;
  response: ReturnType<Scenario['respond']>;
}

/** Runs one scenario under one policy. Deterministic: the same inputs give the same result. */
export async function simulate(
  scenario: Scenario,
  policy: Policy,
  config: EndpointConfig = simEndpointConfig(scenario),
  options: SimOptions = DEFAULT_SIM_OPTIONS,
): Promise<SimResult> {
  const endpointId = `${scenario.id}-${policy.id}`;
  const at = (t: number) => new Date(SIM_START + t);
  const planner = policy.planner ? policy.planner() : null;

  let state: EndpointState = endpointDecider.initialState();
  const created = endpointDecider.decide(
    {
      type: 'CreateEndpoint',
      data: { endpointId, jobId: 'job-sim', jobStatus: 'active', config },
      metadata: { now: at(0) },
    },
    state,
  );
  for (const event of created) state = endpointDecider.evolve(state, event);

  let history: RunHistory = {
    lastRun: null,
    lastFinished: null,
    consecutiveFailures: 0,
    scheduledRuns: 0,
    skippedThrough: null,
    pendingPlan: null,
    inFlight: false,
    queued: false,
  };
  const runs: SimRun[] = [];
  const plannerRuns: PlannerRun[] = [];
  const analyses: SimAnalysis[] = [];
  const pauses: SimPause[] = [];
  let skipped = 0;
  let tokensIn = 0;
  let tokensOut = 0;
  let lastAnalysis = -Infinity;
  let analysisDue = Infinity;
  let hintSeq = 0;
  let inFlight: InFlight | null = null;

  const governed = (): GovernedEndpoint => {
    if (state.status === 'empty') throw new Error('endpoint missing');
    const { config: c } = state;
    return {
      schedule: c.schedule,
      startAt: c.startAt,
      endAt: c.endAt,
      maxRuns: c.maxRuns,
      minIntervalMs: c.minIntervalMs,
      maxIntervalMs: c.maxIntervalMs,
      jitterMs: c.jitterMs,
      catchUp: c.catchUp,
      overlap: c.overlap,
      pauseAfterFailures: c.pauseAfterFailures,
      endpointId,
      createdAt: state.createdAt,
      status: { kind: 'active' },
      job: { kind: 'active' },
      hints: state.status === 'archived' ? [] : state.hints,
    };
  };
  const replan = (t: number): RunPlan =>
    planNextRun(at(t), governed(), history, { aiMaxPauseMs: options.aiMaxPauseMs });
  const stored = (p: RunPlan) =>
    p.runAt && p.slot ? { runAt: p.runAt.toISOString(), slot: p.slot.toISOString() } : null;

  let plan = replan(0);
  history = { ...history, pendingPlan: stored(plan) };

  const analyse = async (t: number, flipped: boolean) => {
    if (!planner) return;
    if (!(t - lastAnalysis >= options.analysisIntervalMs || (flipped && options.analyzeOnOutcomeChange))) {
      analysisDue = Math.min(analysisDue, lastAnalysis + options.analysisIntervalMs);
      return;
    }
    lastAnalysis = t;
    analysisDue = Infinity;
    const now = at(t);
    const dayAgo = SIM_START + t - 24 * 60 * MINUTE;
    let first = plannerRuns.length;
    while (first > 0 && Date.parse(plannerRuns[first - 1].finishedAt) > dayAgo) first--;
    const lastDay = plannerRuns.slice(first);
    const context = plannerContext(state, lastDay, history, plan, now, options.recentRuns);
    const decision = await planner.plan(context);
    tokensIn += decision.tokensIn;
    tokensOut += decision.tokensOut;
    const applied = applyToolCalls({
      state,
      toolCalls: decision.toolCalls,
      now,
      source: policy.source,
      model: policy.source === 'ai' ? decision.model : null,
      hintIds: decision.toolCalls.map(() => `${endpointId}-h${++hintSeq}`),
      aiMaxPauseMs: options.aiMaxPauseMs,
    });
    state = applied.state;
    for (const event of applied.events) {
      if (event.type === 'AIHintProposed' && event.data.kind === 'pause') {
        pauses.push({ from: t, until: Date.parse(String(event.data.value)) - SIM_START });
      }
      if (event.type === 'AIHintsCleared') {
        for (const pause of pauses) pause.until = Math.min(pause.until, t);
      }
    }
    analyses.push({ at: t, summary: decision.summary, toolCalls: applied.toolCalls });
  };

  for (let steps = 0; steps < 1_000_000; steps++) {
    const due = plan.runAt ? plan.runAt.getTime() - SIM_START : Infinity;
    const finishing = inFlight ? inFlight.finish : Infinity;
    const t = Math.min(due, finishing, analysisDue);
    if (!(t <= scenario.durationMs)) break;

    if (analysisDue <= Math.min(due, finishing)) {
      await analyse(t, false);
      plan = replan(t);
      history = { ...history, pendingPlan: stored(plan) };
      continue;
    }

    if (inFlight && finishing <= due) {
      const run: InFlight = inFlight;
      inFlight = null;
      const { response } = run;
      const previous = runs.at(-1);
      const success = response.status === 'success';
      const finished = finishedData(endpointId, run, at);
      plannerRuns.push(toPlannerRun(finished));
      runs.push({
        start: run.start,
        finish: run.finish,
        status: response.status,
        httpStatus: response.httpStatus,
        durationMs: run.finish - run.start,
        retryAfterMs: response.retryAfterMs,
        reason: run.reason,
        gapMs: previous ? run.start - previous.start : null,
      });
      history = {
        ...history,
        inFlight: false,
        lastFinished: {
          status: finished.status,
          httpStatus: finished.httpStatus,
          retryAfterMs: finished.retryAfterMs,
          finishedAt: finished.finishedAt,
        },
        consecutiveFailures: success ? 0 : history.consecutiveFailures + 1,
      };
      plan = replan(t);
      history = { ...history, pendingPlan: stored(plan) };
      const flipped = previous !== undefined && (previous.status === 'success') !== success;
      await analyse(t, flipped);
      plan = replan(t);
      history = { ...history, pendingPlan: stored(plan) };
      continue;
    }

    // A stored plan came due: plan again with it, then dispatch, queue or skip.
    plan = replan(t);
    if (plan.skipped) {
      skipped += plan.skipped.count;
      history = { ...history, skippedThrough: plan.skipped.last.toISOString() };
    }
    if (plan.runAt && plan.runAt.getTime() - SIM_START <= t) {
      const decision = decideDue(at(t), plan, governed(), history);
      if (decision.action === 'dispatch') {
        const response = scenario.respond(t);
        const timedOut = response.latencyMs >= config.timeoutMs;
        inFlight = {
          start: t,
          finish: t + Math.min(response.latencyMs, config.timeoutMs),
          runId: `${endpointId}-r${runs.length + 1}`,
          reason: plan.reason,
          scheduledFor: plan.runAt.getTime() - SIM_START,
          response: timedOut
            ? { ...response, status: 'timeout', httpStatus: null, body: null, error: 'timeout' }
            : response,
        };
        history = {
          ...history,
          lastRun: { scheduledFor: plan.runAt.toISOString(), startedAt: at(t).toISOString() },
          scheduledRuns: history.scheduledRuns + 1,
          pendingPlan: null,
          inFlight: true,
        };
      } else if (decision.action === 'skip') {
        skipped++;
        history = { ...history, skippedThrough: plan.slot?.toISOString() ?? null };
      } else if (decision.action === 'queue') {
        throw new Error('queue_one is not simulated');
      }
      plan = replan(t);
    }
    history = { ...history, pendingPlan: stored(plan) };
  }

  return {
    scenario: scenario.id,
    policy: policy.id,
    durationMs: scenario.durationMs,
    runs,
    analyses,
    pauses,
    skipped,
    tokensIn,
    tokensOut,
  };
}

function finishedData(endpointId: string, run: InFlight, at: (t: number) => Date): RunFinished['data'] {
  const { response } = run;
  const snippet = response.body === null ? '' : JSON.stringify(response.body);
  return {
    runId: run.runId,
    endpointId,
    jobId: 'job-sim',
    status: response.status,
    httpStatus: response.httpStatus,
    durationMs: run.finish - run.start,
    attempts: 1,
    error: response.error,
    response:
      response.httpStatus === null
        ? null
        : { snippet, bytes: snippet.length, truncated: false, contentType: 'application/json' },
    retryAfterMs: response.retryAfterMs,
    scheduledFor: at(run.scheduledFor).toISOString(),
    startedAt: at(run.start).toISOString(),
    finishedAt: at(run.finish).toISOString(),
    trigger: 'schedule',
    retryOf: null,
  };
}

/** What the planner sees, built as the ai-planner builds it. `lastDay` is oldest first. */
function plannerContext(
  state: EndpointState,
  lastDay: readonly PlannerRun[],
  history: RunHistory,
  plan: RunPlan,
  now: Date,
  recent: number,
): PlannerContext {
  if (state.status === 'empty') throw new Error('endpoint missing');
  const { config } = state;
  return {
    endpointId: state.endpointId,
    jobId: state.jobId,
    name: config.name,
    description: config.description,
    request: { method: config.method, url: config.url },
    schedule: config.schedule,
    bounds: {
      minIntervalMs: config.minIntervalMs,
      maxIntervalMs: config.maxIntervalMs,
      startAt: config.startAt,
      endAt: config.endAt,
      pauseAfterFailures: config.pauseAfterFailures,
    },
    activeHints: activeHints(state, now),
    siblings: [],
    recentRuns: lastDay.slice(-recent).reverse(),
    health: plannerHealth(lastDay, history.consecutiveFailures, now),
    nextRunAt: plan.runAt?.toISOString() ?? null,
    now: now.toISOString(),
  };
}
