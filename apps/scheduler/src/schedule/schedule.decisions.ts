import {
  DispatchWorkItem,
  NextRunPlanned,
  RunMissed,
  RunRequested,
  RunSkipped,
  RunTrigger,
  ScheduleEvent,
} from '@cronicorn/events';
import {
  decideDue,
  GovernedEndpoint,
  GovernorOptions,
  planNextRun,
  RunHistory,
  RunPlan,
} from '@cronicorn/domain';
import { EndpointRow, governedEndpoint, JobRow, OpenRuns, runHistory, StoredPlan } from './schedule.model';

// What the scheduler does with one endpoint when an input changes, when its plan comes due
// and when a run is requested: pure, so every rule of docs/governor.md's "How the scheduler
// uses it" is tested without a database. The adapters write what comes out in one transaction.

export interface PlanContext {
  now: Date;
  job: JobRow | null;
  open: OpenRuns;
  governor?: Partial<GovernorOptions>;
  newId: () => string;
}

/** A run to record in `scheduler_runs` and (when dispatched) publish to the dispatch stream. */
export interface HandOut {
  runId: string;
  trigger: RunTrigger;
  state: 'dispatched' | 'queued';
  scheduledFor: string;
  workItem: DispatchWorkItem;
}

export interface Outcome {
  row: EndpointRow;
  /** To append to `schedule-<endpointId>`, in order. */
  events: ScheduleEvent[];
  handOuts: HandOut[];
  /** `pauseAfterFailures` was reached: the endpoint decider should pause the endpoint. */
  pauseForFailures: boolean;
  /** The stored plan is not the one the row had: any lease on it is void. */
  planChanged: boolean;
  /**
   * Why the run `queue_one` holds back must not go out any more (the endpoint or its job is
   * paused or archived, an AI pause, `pauseAfterFailures`): the writer drops it (`dropQueuedRuns`).
   */
  dropQueued?: string | null;
}

const iso = (date: Date) => date.toISOString();
const ms = (value: string) => Date.parse(value);

//////////////////////////////////////// Re-plan after an input changed

/**
 * Plans again from the current inputs and stores the plan (never keeps the old one: a hint
 * that lengthens the interval postpones the pending run). A plan that would follow the
 * catch-up policy is left to the due loop: the stored plan is overdue, and the decision about
 * missed slots belongs to the moment it is handed out.
 */
export function replan(ctx: PlanContext, row: EndpointRow): Outcome {
  const plan = planFor(ctx, row, governedEndpoint(row, ctx.job), runHistory(row, ctx.open));
  const dropQueued = ctx.open.queued ? stoppedBy(ctx, row, plan) : null;
  if (row.plan !== null && isCatchUp(plan)) return { ...unchanged(row), dropQueued };
  return { ...store(ctx, row, plan, []), dropQueued };
}

/** Why no run of the endpoint may go out now, or null. */
function stoppedBy(ctx: PlanContext, row: EndpointRow, plan: RunPlan): string | null {
  const paused = (status: string, until: string | null) =>
    status === 'paused' && (until === null || ms(until) > ctx.now.getTime());
  if (row.status === 'archived') return 'archived';
  if (ctx.job?.status === 'archived') return 'job_archived';
  if (paused(row.status, row.pausedUntil)) return 'paused';
  if (ctx.job && paused(ctx.job.status, ctx.job.pausedUntil)) return 'job_paused';
  return plan.reason === 'hint:pause' || plan.reason === 'pause_after_failures' ? plan.reason : null;
}

/**
 * The runs `queue_one` held back are dropped (`RunSkipped`, policy `paused`): the endpoint
 * stopped before the run in flight finished, and a queued run would otherwise go out when it
 * does. They were never made, so they no longer count against `maxRuns`.
 */
export function dropQueuedRuns(
  outcome: Outcome,
  runs: ReadonlyArray<{ runId: string; scheduledFor: string }>,
  now: Date,
): Outcome {
  const { row, dropQueued } = outcome;
  if (runs.length === 0 || !dropQueued) return outcome;
  const skipped = runs.map((run) =>
    skippedEvent(row, run.runId, run.scheduledFor, 'paused', `queued:${dropQueued}`, 1, now),
  );
  return {
    ...outcome,
    row: { ...row, scheduledRuns: Math.max(0, row.scheduledRuns - runs.length) },
    events: [...skipped, ...outcome.events],
    dropQueued: null,
  };
}

/**
 * The governor's plan. The endpoint decider does not pause an endpoint for its failures while
 * its user's pause until a time is in force (it never overrides that pause): the plan is then
 * the first run after that pause, when the failures are looked at again. Otherwise the
 * endpoint would be left with no plan, and nothing would plan it again when the pause ends.
 */
function planFor(
  ctx: PlanContext,
  row: EndpointRow,
  endpoint: GovernedEndpoint,
  history: RunHistory,
): RunPlan {
  const plan = planNextRun(ctx.now, endpoint, history, ctx.governor);
  const pausedUntil = row.status === 'paused' && row.pausedUntil !== null ? ms(row.pausedUntil) : -Infinity;
  if (!plan.pauseForFailures || pausedUntil <= ctx.now.getTime()) return plan;
  return planNextRun(ctx.now, { ...endpoint, pauseAfterFailures: null }, history, ctx.governor);
}

function isCatchUp(plan: RunPlan): boolean {
  return plan.skipped !== undefined || plan.catchUpRuns !== undefined || plan.reason.startsWith('catch_up');
}

function unchanged(row: EndpointRow): Outcome {
  return { row, events: [], handOuts: [], pauseForFailures: false, planChanged: false };
}

/** Stores `plan` as the row's plan, with `NextRunPlanned` when it differs from the stored one. */
function store(ctx: PlanContext, row: EndpointRow, plan: RunPlan, events: ScheduleEvent[]): Outcome {
  const pauseForFailures = plan.pauseForFailures === true;
  if (plan.runAt === null || plan.slot === null) {
    // NextRunPlanned has no "nothing planned" form: the row just forgets its plan.
    return {
      row: { ...row, plan: null },
      events,
      handOuts: [],
      pauseForFailures,
      planChanged: row.plan !== null,
    };
  }
  const current = row.plan;
  const slot = iso(plan.slot);
  const runAt = iso(plan.runAt);
  const sameSlot = current !== null && current.slot === slot && current.reason === plan.reason;
  // A due plan comes back as `runAt = now`: the same plan, not a new one each time it is read.
  const bothDue =
    sameSlot && ms(current.runAt) <= ctx.now.getTime() && plan.runAt.getTime() <= ctx.now.getTime();
  if (sameSlot && (current.runAt === runAt || bothDue)) {
    return { row, events, handOuts: [], pauseForFailures, planChanged: false };
  }
  const next: StoredPlan = {
    runId: current !== null && current.slot === slot ? current.runId : ctx.newId(),
    runAt,
    slot,
    reason: plan.reason,
    plannedAt: iso(ctx.now),
  };
  const planned: NextRunPlanned = {
    type: 'NextRunPlanned',
    data: {
      endpointId: row.endpointId,
      jobId: row.jobId,
      runId: next.runId,
      runAt,
      reason: plan.reason,
      inputs: { ...plan.inputs, slot },
      plannedAt: next.plannedAt,
    },
  };
  return {
    row: { ...row, plan: next },
    events: [...events, planned],
    handOuts: [],
    pauseForFailures,
    planChanged: true,
  };
}

//////////////////////////////////////// The stored plan comes due

export type FireResult =
  | { kind: 'stale' }
  | { kind: 'early'; runAt: Date }
  | ({ kind: 'fired'; decision: 'dispatch' | 'queue' | 'skip' | 'wait' } & Outcome);

/**
 * The claimed plan's due time has come. Plans again with the stored plan as `pendingPlan`
 * (catch-up reads it); a plan still due is dispatched, queued or skipped by the overlap
 * policy, and the next plan is stored. A plan that moved into the future since is stored.
 */
export function fire(ctx: PlanContext, row: EndpointRow, claimedRunId: string): FireResult {
  const stored = row.plan;
  if (stored === null || stored.runId !== claimedRunId) return { kind: 'stale' };
  if (ctx.now.getTime() < ms(stored.runAt)) return { kind: 'early', runAt: new Date(stored.runAt) };

  const endpoint = governedEndpoint(row, ctx.job);
  const history = runHistory(row, ctx.open);
  const plan = planFor(ctx, row, endpoint, history);
  const events: ScheduleEvent[] = [];
  let next = row;
  if (plan.skipped) {
    const { count, first, last, capped } = plan.skipped;
    events.push(
      skippedEvent(
        row,
        null,
        iso(first),
        'catch_up',
        capped ? `${plan.reason} (capped)` : plan.reason,
        count,
        ctx.now,
      ),
    );
    next = { ...next, skippedThrough: latest(next.skippedThrough, iso(last)) };
  }

  const decision = decideDue(ctx.now, plan, endpoint, history);
  if (decision.action === 'wait') {
    return { kind: 'fired', decision: 'wait', ...store(ctx, next, plan, events) };
  }

  const slots = plan.catchUpRuns ?? [plan.slot as Date];
  const catchUp = plan.catchUpRuns !== undefined || plan.reason.startsWith('catch_up');
  const scheduledFor = (slot: Date, i: number) => (catchUp || i > 0 ? iso(slot) : stored.runAt);
  let open = ctx.open;
  const handOuts: HandOut[] = [];

  if (decision.action === 'skip') {
    events.push(
      skippedEvent(row, stored.runId, stored.runAt, 'overlap', decision.reason, slots.length, ctx.now),
    );
    next = { ...next, skippedThrough: latest(next.skippedThrough, iso(slots[slots.length - 1])) };
  } else {
    const queued = decision.action === 'queue';
    // queue_one holds one run back; the rest of a catch-up batch does not fit.
    const taken = queued ? slots.slice(0, 1) : slots;
    taken.forEach((slot, i) => {
      const runId = i === 0 ? stored.runId : ctx.newId();
      const state = queued ? 'queued' : 'dispatched';
      handOuts.push(handOut(row, { runId, trigger: 'schedule', state, scheduledFor: scheduledFor(slot, i) }));
    });
    if (queued && slots.length > 1) {
      const rest = slots.slice(1);
      events.push(
        skippedEvent(row, null, iso(rest[0]), 'overlap', 'overlap:queue_full', rest.length, ctx.now),
      );
      next = { ...next, skippedThrough: latest(next.skippedThrough, iso(rest[rest.length - 1])) };
    }
    const last = handOuts[handOuts.length - 1];
    next = {
      ...next,
      // A run handed out now has started, for the schedule (ADR 0010); a queued one starts later.
      lastRun: {
        runId: last.runId,
        scheduledFor: iso(plan.runAt as Date),
        startedAt: queued ? null : iso(ctx.now),
      },
      scheduledRuns: next.scheduledRuns + handOuts.length,
    };
    open = queued ? { ...open, queued: true } : { ...open, inFlight: true };
  }

  const after = replan({ ...ctx, open }, { ...next, plan: null });
  return {
    kind: 'fired',
    decision: decision.action,
    ...after,
    events: [...events, ...after.events],
    handOuts,
    pauseForFailures: after.pauseForFailures || plan.pauseForFailures === true,
    planChanged: true,
  };
}

function latest(a: string | null, b: string): string {
  return a !== null && ms(a) >= ms(b) ? a : b;
}

function skippedEvent(
  row: EndpointRow,
  runId: string | null,
  scheduledFor: string,
  policy: RunSkipped['data']['policy'],
  reason: string,
  count: number,
  now: Date,
): RunSkipped {
  return {
    type: 'RunSkipped',
    data: { endpointId: row.endpointId, runId, scheduledFor, policy, reason, count, skippedAt: iso(now) },
  };
}

//////////////////////////////////////// Runs outside the schedule

/**
 * `RunRequested` (manual, trigger, retry): the run is handed out at once, whatever the
 * overlap policy (someone asked for it), and counts as the latest run; then the schedule is
 * planned again. A retry repeats a past run beside the schedule: it does not become the latest
 * run, so an interval keeps counting from the last run of the schedule. Nothing is handed out
 * for an archived endpoint or job.
 */
export function requestRun(
  ctx: PlanContext,
  row: EndpointRow,
  request: RunRequested['data'],
  correlationId: string | null,
): Outcome {
  if (row.status === 'archived' || ctx.job?.status === 'archived') return replan(ctx, row);
  const run = handOut(row, {
    runId: request.runId,
    trigger: request.source,
    state: 'dispatched',
    scheduledFor: iso(ctx.now),
    retryOf: request.retryOf,
    correlationId,
    templateContext: requestedRunContext(row, request),
  });
  const next: EndpointRow =
    request.source === 'retry'
      ? row
      : {
          ...row,
          lastRun: { runId: run.runId, scheduledFor: run.scheduledFor, startedAt: run.scheduledFor },
        };
  const after = replan({ ...ctx, open: { ...ctx.open, inFlight: true } }, next);
  return { ...after, handOuts: [run] };
}

/**
 * What a requested run's body template may reference: the trigger that asked for it (a retry
 * carries the trigger of the run it retries) and the endpoint's latest finished run, with its
 * response snippet parsed when it is JSON.
 */
export function requestedRunContext(
  row: EndpointRow,
  request: RunRequested['data'],
): Record<string, unknown> {
  const last = row.lastFinished;
  const snippet = last?.response?.snippet ?? null;
  return {
    trigger: request.trigger ? { name: request.trigger.name, payload: request.trigger.payload } : null,
    previousRun: last
      ? {
          status: last.status,
          httpStatus: last.httpStatus,
          finishedAt: last.finishedAt,
          response: snippet === null ? null : { snippet, json: parseJson(snippet) },
        }
      : null,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

//////////////////////////////////////// Missed runs

/** A dispatched run did not start within its budget (counted from when it was handed out). */
export function runMissed(
  row: EndpointRow,
  run: { runId: string; scheduledFor: string },
  budgetMs: number,
  now: Date,
): RunMissed {
  return {
    type: 'RunMissed',
    data: {
      endpointId: row.endpointId,
      runId: run.runId,
      scheduledFor: run.scheduledFor,
      lateMs: Math.max(0, now.getTime() - ms(run.scheduledFor)),
      budgetMs,
      detectedAt: iso(now),
    },
  };
}

//////////////////////////////////////// Work items

interface HandOutSpec {
  runId: string;
  trigger: RunTrigger;
  state: HandOut['state'];
  scheduledFor: string;
  retryOf?: string | null;
  correlationId?: string | null;
  templateContext?: Record<string, unknown> | null;
}

/**
 * The work item carries the request as configured now; secret header values stay the
 * ciphertexts the events hold (the dispatcher decrypts them right before the call).
 */
export function handOut(row: EndpointRow, spec: HandOutSpec): HandOut {
  const { url, method, headers, secretHeaders, body, timeoutMs, maxAttempts } = row.config;
  const workItem: DispatchWorkItem = {
    runId: spec.runId,
    tenantId: row.tenantId,
    jobId: row.jobId,
    endpointId: row.endpointId,
    scheduledFor: spec.scheduledFor,
    trigger: spec.trigger,
    retryOf: spec.retryOf ?? null,
    correlationId: spec.correlationId ?? spec.runId,
    request: { url, method, headers, secretHeaders, body, timeoutMs, maxAttempts },
    templateContext: spec.templateContext ?? null,
  };
  return {
    runId: spec.runId,
    trigger: spec.trigger,
    state: spec.state,
    scheduledFor: spec.scheduledFor,
    workItem,
  };
}
