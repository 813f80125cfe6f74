import {
  EndpointConfig,
  EndpointCreated,
  EndpointEvent,
  JobEvent,
  RunFinished,
  RunResponse,
  RunStatus,
  RunTrigger,
} from '@cronicorn/events';
import { GovernedEndpoint, GovernedStatus, GovernorHint, RunHistory } from '@cronicorn/domain';

// The scheduler's picture of one endpoint, as its row in `scheduler_endpoints` holds it, and
// the pure folds of endpoint, job and run facts into it. Instants are ISO strings, as the
// governor and the events carry them.

//////////////////////////////////////// Rows

export type ScheduleStatus = 'active' | 'paused' | 'archived';

export interface JobRow {
  jobId: string;
  tenantId: string;
  status: ScheduleStatus;
  pausedUntil: string | null;
}

/** Failures in a row, counted since `since` (the last success, `FailuresReset` or `EndpointResumed`). */
export interface FailureStreak {
  count: number;
  since: string | null;
  lastFailureAt: string | null;
}

/** The endpoint's latest result, kept in `scheduler_endpoint_results`. */
export interface EndpointResult {
  lastFinished: LastFinished | null;
  streak: FailureStreak;
}

/** The plan waiting to be handed out. */
export interface StoredPlan {
  runId: string;
  runAt: string;
  slot: string;
  reason: string;
  plannedAt: string;
}

export interface EndpointRow {
  endpointId: string;
  tenantId: string;
  jobId: string;
  config: EndpointConfig;
  createdAt: string;
  status: ScheduleStatus;
  pausedUntil: string | null;
  /** The newest hint of each kind; expired ones are harmless (the governor ignores them). */
  hints: GovernorHint[];
  lastRun: { runId: string; scheduledFor: string; startedAt: string | null } | null;
  lastFinished: LastFinished | null;
  streak: FailureStreak;
  scheduledRuns: number;
  skippedThrough: string | null;
  plan: StoredPlan | null;
}

/**
 * The latest finished run: what the governor reads, plus its response snippet, which a
 * requested run's body template may reference (`{{previousRun.response.json.cursor}}`).
 */
export type LastFinished = NonNullable<RunHistory['lastFinished']> & { response?: RunResponse | null };

/** The endpoint's runs that are not done, from `scheduler_runs`. */
export interface OpenRuns {
  inFlight: boolean;
  queued: boolean;
}

//////////////////////////////////////// Governor inputs

export function governedEndpoint(row: EndpointRow, job: JobRow | null): GovernedEndpoint {
  const { config } = row;
  return {
    endpointId: row.endpointId,
    createdAt: row.createdAt,
    status: governedStatus(row.status, row.pausedUntil),
    job: job ? governedStatus(job.status, job.pausedUntil) : { kind: 'active' },
    hints: row.hints,
    schedule: config.schedule,
    startAt: config.startAt,
    endAt: config.endAt,
    maxRuns: config.maxRuns,
    minIntervalMs: config.minIntervalMs,
    maxIntervalMs: config.maxIntervalMs,
    jitterMs: config.jitterMs,
    catchUp: config.catchUp,
    overlap: config.overlap,
    pauseAfterFailures: config.pauseAfterFailures,
  };
}

function governedStatus(status: ScheduleStatus, pausedUntil: string | null): GovernedStatus {
  if (status === 'paused') return { kind: 'paused', until: pausedUntil };
  return { kind: status };
}

/** The run history the governor reads; `pendingPlan` is the stored plan when re-planning. */
export function runHistory(row: EndpointRow, open: OpenRuns): RunHistory {
  return {
    lastRun: row.lastRun
      ? { scheduledFor: row.lastRun.scheduledFor, startedAt: row.lastRun.startedAt }
      : null,
    lastFinished: row.lastFinished && governorFinish(row.lastFinished),
    consecutiveFailures: row.streak.count,
    scheduledRuns: row.scheduledRuns,
    skippedThrough: row.skippedThrough,
    pendingPlan: row.plan ? { runAt: row.plan.runAt, slot: row.plan.slot } : null,
    inFlight: open.inFlight,
    queued: open.queued,
  };
}

function governorFinish({ status, httpStatus, retryAfterMs, finishedAt }: LastFinished) {
  return { status, httpStatus, retryAfterMs, finishedAt };
}

//////////////////////////////////////// Endpoint and job events

export const NO_STREAK: FailureStreak = { count: 0, since: null, lastFailureAt: null };

/** A new row for `EndpointCreated`. */
export function createdRow(tenantId: string, data: EndpointCreated['data']): EndpointRow {
  const { endpointId, jobId, config, createdAt } = data;
  return {
    endpointId,
    tenantId,
    jobId,
    config,
    createdAt,
    status: 'active',
    pausedUntil: null,
    hints: [],
    lastRun: null,
    lastFinished: null,
    streak: NO_STREAK,
    scheduledRuns: 0,
    skippedThrough: null,
    plan: null,
  };
}

/**
 * Folds an endpoint event other than `EndpointCreated` and `RunRequested` (which hands a
 * run out: see `requestedRun`) into the row's governor inputs.
 */
export function applyEndpointEvent(row: EndpointRow, event: EndpointEvent): EndpointRow {
  switch (event.type) {
    case 'EndpointCreated':
    case 'RunRequested':
      return row;
    case 'EndpointUpdated':
      return { ...row, config: event.data.config };
    case 'EndpointPaused':
      if (row.status === 'archived') return row;
      return { ...row, status: 'paused', pausedUntil: event.data.until };
    case 'EndpointResumed':
      if (row.status === 'archived') return row;
      // A resumed endpoint starts a new streak, or pauseAfterFailures would pause it again at once.
      return {
        ...row,
        status: 'active',
        pausedUntil: null,
        streak: clearStreak(row.streak, event.data.resumedAt),
      };
    case 'EndpointArchived':
      return { ...row, status: 'archived', pausedUntil: null };
    case 'FailuresReset':
      return { ...row, streak: clearStreak(row.streak, event.data.resetAt) };
    case 'AIHintProposed': {
      const { hintId, kind, value, expiresAt, proposedAt, source } = event.data;
      const hint: GovernorHint =
        kind === 'interval'
          ? { hintId, kind, value: Number(value), expiresAt, proposedAt, source }
          : { hintId, kind, value: String(value), expiresAt, proposedAt, source };
      return { ...row, hints: [...row.hints.filter((h) => h.kind !== kind), hint] };
    }
    case 'AIHintsCleared':
      return { ...row, hints: [] };
    default: {
      const _unknown: never = event;
      return row;
    }
  }
}

/** Endpoint events that change the endpoint's result (its failure streak). */
export function changesResult(event: EndpointEvent): boolean {
  return event.type === 'EndpointResumed' || event.type === 'FailuresReset';
}

/** Folds a job event; `job` is null when the scheduler has not seen the job yet. */
export function applyJobEvent(job: JobRow | null, event: JobEvent, tenantId: string): JobRow {
  const current: JobRow = job ?? { jobId: event.data.jobId, tenantId, status: 'active', pausedUntil: null };
  switch (event.type) {
    case 'JobCreated':
    case 'JobUpdated':
      return current;
    case 'JobPaused':
      if (current.status === 'archived') return current;
      return { ...current, status: 'paused', pausedUntil: event.data.until };
    case 'JobResumed':
      if (current.status === 'archived') return current;
      return { ...current, status: 'active', pausedUntil: null };
    case 'JobArchived':
      return { ...current, status: 'archived', pausedUntil: null };
    default: {
      const _unknown: never = event;
      return current;
    }
  }
}

//////////////////////////////////////// Failure streak

const ms = (iso: string | null): number => (iso === null ? -Infinity : Date.parse(iso));
const later = (a: string | null, b: string | null): string | null => (ms(a) >= ms(b) ? a : b);

/**
 * Run events of different runs may be folded out of their order in time (they live in
 * different streams). The streak is therefore kept by instants: a failure that finished
 * before the streak's start does not count, and a success or reset that turns out to be
 * older than a failure already counted leaves that failure (one, at least) in the streak.
 */
export function clearStreak(streak: FailureStreak, at: string): FailureStreak {
  if (ms(at) <= ms(streak.since)) return streak;
  const failedSince = streak.lastFailureAt !== null && ms(streak.lastFailureAt) > ms(at);
  return { count: failedSince ? 1 : 0, since: at, lastFailureAt: failedSince ? streak.lastFailureAt : null };
}

export function recordFinish(streak: FailureStreak, status: RunStatus, finishedAt: string): FailureStreak {
  if (status === 'success') return clearStreak(streak, finishedAt);
  if (ms(finishedAt) <= ms(streak.since)) return streak;
  return { ...streak, count: streak.count + 1, lastFailureAt: later(streak.lastFailureAt, finishedAt) };
}

//////////////////////////////////////// Run events

/**
 * `RunStarted`: the start of the latest run handed out is what intervals measure from. A run
 * newer than the one the row knows (the row was lost or rebuilt) becomes the latest run,
 * unless it is a retry (see `requestRun`).
 */
export function applyRunStarted(
  row: EndpointRow,
  run: { runId: string; scheduledFor: string; startedAt: string; trigger?: RunTrigger },
): EndpointRow {
  const last = row.lastRun;
  if (last && last.runId === run.runId) {
    return last.startedAt === null ? { ...row, lastRun: { ...last, startedAt: run.startedAt } } : row;
  }
  if (run.trigger === 'retry') return row;
  if (last && ms(run.scheduledFor) <= ms(last.scheduledFor)) return row;
  return { ...row, lastRun: { runId: run.runId, scheduledFor: run.scheduledFor, startedAt: run.startedAt } };
}

export function applyRunFinished(row: EndpointRow, data: RunFinished['data']): EndpointRow {
  const started =
    row.lastRun && row.lastRun.runId === data.runId && row.lastRun.startedAt === null
      ? { ...row.lastRun, startedAt: data.startedAt }
      : row.lastRun;
  return { ...row, lastRun: started, ...recordResult(row, data) };
}

/**
 * What a finished run changes of the endpoint's result (kept apart from the endpoint's row,
 * see `finishLeavesPlan`): the newest finish, and the failure streak.
 */
export function recordResult(result: EndpointResult, data: RunFinished['data']): EndpointResult {
  const { status, httpStatus, retryAfterMs, finishedAt, response } = data;
  const newest = !result.lastFinished || ms(finishedAt) >= ms(result.lastFinished.finishedAt);
  return {
    lastFinished: newest
      ? { status, httpStatus, retryAfterMs, finishedAt, response: response ?? null }
      : result.lastFinished,
    streak: recordFinish(result.streak, status, finishedAt),
  };
}

/**
 * A run that finished this way leaves the endpoint's plan as it is, so its fold need not lock
 * the endpoint's row (which the due loop's fires lock): a success while no failure is counted
 * and no Retry-After is on record, of a run whose start the row knows, while no run is queued
 * (a finish releases a queued run). The governor reads the last finish only for a Retry-After
 * floor (429/503; any Retry-After here, to stay on the safe side) and the streak only from two
 * failures on.
 */
export function finishLeavesPlan(
  row: EndpointRow,
  data: RunFinished['data'],
  hasQueuedRun: boolean,
): boolean {
  return (
    data.status === 'success' &&
    row.streak.count === 0 &&
    (row.lastFinished === null || row.lastFinished.retryAfterMs === null) &&
    !hasQueuedRun &&
    !(row.lastRun?.runId === data.runId && row.lastRun.startedAt === null)
  );
}
