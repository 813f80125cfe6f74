import { EndpointConfig, HintSource, RunStatus } from '@cronicorn/events';

// The governor's contract with the scheduler. Instants are ISO strings as the events carry
// them; only `now` and the plan's output are `Date`s.

//////////////////////////////////////// Inputs

/** Where an endpoint or its job stands. A pause whose `until` has passed no longer counts. */
export type GovernedStatus =
  { kind: 'active' } | { kind: 'paused'; until: string | null } | { kind: 'archived' };

/**
 * An AI hint as the endpoint state keeps it (at most one per kind, the newest; the state's
 * `ActiveHint` fits). Expired hints may be passed: the governor ignores them by itself.
 * `value` is the interval in ms (`interval`), the instant to run at (`one_shot`) or the
 * instant paused until (`pause`).
 */
export type GovernorHint = {
  hintId: string;
  expiresAt: string;
  proposedAt: string;
  /** Who proposed it; a pause by `ai` or `heuristic` (or of unknown source) is capped at `aiMaxPauseMs`. */
  source?: HintSource;
} & (
  { kind: 'interval'; value: number } | { kind: 'one_shot'; value: string } | { kind: 'pause'; value: string }
);

/** What the governor needs to know about an endpoint: its timing config and state. */
export interface GovernedEndpoint extends Pick<
  EndpointConfig,
  | 'schedule'
  | 'startAt'
  | 'endAt'
  | 'maxRuns'
  | 'minIntervalMs'
  | 'maxIntervalMs'
  | 'jitterMs'
  | 'catchUp'
  | 'overlap'
  | 'pauseAfterFailures'
> {
  /** Seeds the jitter: two endpoints on the same schedule spread differently. */
  endpointId: string;
  createdAt: string;
  status: GovernedStatus;
  /** The status of the endpoint's job: its pause and archive apply to the endpoint too. */
  job: GovernedStatus;
  hints: readonly GovernorHint[];
}

/** The endpoint's runs as the scheduler has recorded them. */
export interface RunHistory {
  /**
   * The latest run handed out (any trigger; a run queued by `queue_one` counts), or null.
   * `scheduledFor` is the plan's `runAt`; `startedAt` stays null until `RunStarted` arrives.
   */
  lastRun: { scheduledFor: string; startedAt: string | null } | null;
  /** The latest finished run: its Retry-After is honoured. */
  lastFinished: {
    status: RunStatus;
    httpStatus: number | null;
    retryAfterMs: number | null;
    finishedAt: string;
  } | null;
  /** Failures in a row, counted since the last success, `FailuresReset` or `EndpointResumed`. */
  consecutiveFailures: number;
  /** Runs handed out by the schedule (manual, trigger and retry runs excluded): `maxRuns`, `once`. */
  scheduledRuns: number;
  /** The latest slot recorded as skipped (`RunSkipped`, overlap or catch-up): never planned again. */
  skippedThrough: string | null;
  /** The stored plan not yet handed out, when re-planning (null after a dispatch): catch-up reads it. */
  pendingPlan: { runAt: string; slot: string } | null;
  /** A run of this endpoint is in flight (handed out, not finished). */
  inFlight: boolean;
  /** `queue_one` already holds a run back until the one in flight finishes. */
  queued: boolean;
}

/** Knobs that are not per endpoint. */
export interface GovernorOptions {
  /** `AI_MAX_PAUSE_MS`: an AI pause never lasts longer than this from its proposal. */
  aiMaxPauseMs: number;
  /** The backoff cap when the endpoint has no `maxIntervalMs`. */
  defaultMaxBackoffMs: number;
  /** A stored plan later than this is missed (downtime) and follows the catch-up policy. */
  catchUpGraceMs: number;
  /** Catch-up `all` hands out at most this many runs at once; the rest are skipped. */
  maxCatchUpRuns: number;
}

export const DEFAULT_GOVERNOR_OPTIONS: GovernorOptions = {
  aiMaxPauseMs: 24 * 60 * 60_000,
  defaultMaxBackoffMs: 60 * 60_000,
  catchUpGraceMs: 60_000,
  maxCatchUpRuns: 10,
};

//////////////////////////////////////// Output

/** Why the plan is what it is; stable codes recorded in `NextRunPlanned.reason`. */
export type PlanReason =
  // no run
  | 'archived'
  | 'job_archived'
  | 'ended:end_at'
  | 'ended:max_runs'
  | 'ended:once'
  | 'paused'
  | 'job_paused'
  | 'pause_after_failures'
  | 'invalid_schedule'
  // paused until a time: the plan is the first run after it
  | 'paused_until'
  | 'job_paused_until'
  | 'hint:pause'
  // the cadence
  | 'cron'
  | 'interval'
  | 'once'
  | 'hint:interval'
  | 'hint:one_shot'
  | 'backoff'
  // floors
  | 'retry_after'
  | 'min_interval'
  | 'start_at'
  // late after downtime
  | 'catch_up:once'
  | 'catch_up:skip'
  | 'catch_up:all';

/** Slots of the schedule that will not run because of the catch-up policy. */
export interface SkippedSlots {
  policy: 'catch_up';
  count: number;
  first: Date;
  last: Date;
  /** More than the governor counted (1,000): `count` is a lower bound. */
  capped: boolean;
}

/** The governor's decision for the next run of one endpoint. */
export interface RunPlan {
  /** When to hand the run out (never before `now`), or null: nothing to plan. */
  runAt: Date | null;
  /** The schedule slot the run stands for, before jitter and lateness. */
  slot: Date | null;
  reason: PlanReason;
  /** The values that decided the plan, JSON-ready, for `NextRunPlanned.inputs`. */
  inputs: Record<string, unknown>;
  /** Record these as `RunSkipped` (policy `catch_up`) and set `skippedThrough` to `last`. */
  skipped?: SkippedSlots;
  /** Catch-up `all`: hand out one run per slot now, in order (`runAt` is now). */
  catchUpRuns?: Date[];
  /** `pauseAfterFailures` was reached: pause the endpoint (`EndpointPaused`, by `failures`). */
  pauseForFailures?: true;
}
