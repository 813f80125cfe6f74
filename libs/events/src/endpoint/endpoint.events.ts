import { Event } from '../envelope';

// Stream `endpoint-<endpointId>`, written by command-api (users), the ai-planner (hints) and
// the scheduler (automatic pauses). Everything that changes when an endpoint should run.

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

/**
 * A schedule given as a preset (`{every: 'week', at: '09:30', on: 'mon'}`) rather than a cron
 * expression. The cron schedule carrying it holds the equivalent expression, which is what runs.
 */
export interface CronPreset {
  every: 'day' | 'week' | 'month';
  /** Local wall-clock time in the schedule's zone, `HH:MM`. */
  at: string;
  /** `week`: a day name (`mon`…`sun`); `month`: a day of the month (1–31). */
  on?: string | number;
}

/** Exactly one way of deciding the baseline time of the next run. */
export type EndpointSchedule =
  | { kind: 'cron'; cron: string; timezone: string; preset?: CronPreset }
  | { kind: 'interval'; intervalMs: number }
  | { kind: 'once'; runAt: string };

/** What to do with runs planned while the system was down (DESIGN §5 rule 7). */
export type CatchUpPolicy = 'once' | 'skip' | 'all';
/** What to do when a run is due while the previous one is still in flight. */
export type OverlapPolicy = 'skip' | 'queue_one';

/**
 * The full configuration of an endpoint. `secretHeaders` values are ciphertexts
 * (`enc:v1:…`, AES-256-GCM with `SECRETS_KEY`): they never appear in clear in an event.
 */
export interface EndpointConfig {
  name: string;
  description: string | null;
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  secretHeaders: Record<string, string>;
  body: unknown;
  timeoutMs: number;
  schedule: EndpointSchedule;
  startAt: string | null;
  endAt: string | null;
  maxRuns: number | null;
  minIntervalMs: number | null;
  maxIntervalMs: number | null;
  maxAttempts: number;
  jitterMs: number;
  catchUp: CatchUpPolicy;
  overlap: OverlapPolicy;
  pauseAfterFailures: number | null;
  triggers: string[];
}

/** An endpoint was registered in a job. */
export type EndpointCreated = Event<
  'EndpointCreated',
  { endpointId: string; jobId: string; config: EndpointConfig; createdAt: string }
>;

/** The configuration changed: `changes` lists what the user set, `config` is the result. */
export type EndpointUpdated = Event<
  'EndpointUpdated',
  { endpointId: string; changes: Partial<EndpointConfig>; config: EndpointConfig; updatedAt: string }
>;

/**
 * The endpoint stops running until `until` (null: indefinitely). `by` is `user`, or
 * `failures` when `pauseAfterFailures` consecutive failures paused it.
 */
export type EndpointPaused = Event<
  'EndpointPaused',
  {
    endpointId: string;
    until: string | null;
    reason: string | null;
    by: 'user' | 'failures';
    pausedAt: string;
  }
>;

export type EndpointResumed = Event<'EndpointResumed', { endpointId: string; resumedAt: string }>;

/** Terminal: the endpoint never runs again and rejects further commands. */
export type EndpointArchived = Event<'EndpointArchived', { endpointId: string; archivedAt: string }>;

/** The consecutive-failure streak was cleared by a user, ending any backoff. */
export type FailuresReset = Event<'FailuresReset', { endpointId: string; resetAt: string }>;

/**
 * One extra run was asked for outside the schedule: `manual` (`POST …/trigger`), `trigger`
 * (a named trigger fired, with its payload) or `retry` (`POST /v1/runs/:id/retry`).
 */
export type RunRequested = Event<
  'RunRequested',
  {
    endpointId: string;
    runId: string;
    source: 'manual' | 'trigger' | 'retry';
    trigger: { name: string; payload: unknown } | null;
    retryOf: string | null;
    requestedAt: string;
  }
>;

export type HintKind = 'interval' | 'one_shot' | 'pause';
export type HintSource = 'ai' | 'heuristic' | 'api';

/**
 * A proposal to steer the schedule until `expiresAt`, already validated and clamped to the
 * endpoint's bounds by the endpoint decider. `value` is the interval in ms (`interval`) or an
 * ISO instant (`one_shot`: run at; `pause`: paused until). `requested` holds the value before
 * clamping when clamping changed it.
 */
export type AIHintProposed = Event<
  'AIHintProposed',
  {
    endpointId: string;
    hintId: string;
    kind: HintKind;
    value: number | string;
    requested: number | string | null;
    expiresAt: string;
    reason: string;
    source: HintSource;
    model: string | null;
    proposedAt: string;
  }
>;

/** Every active hint was removed; the baseline schedule applies again. */
export type AIHintsCleared = Event<
  'AIHintsCleared',
  { endpointId: string; reason: string; source: HintSource; clearedAt: string }
>;

export type EndpointEvent =
  | EndpointCreated
  | EndpointUpdated
  | EndpointPaused
  | EndpointResumed
  | EndpointArchived
  | FailuresReset
  | RunRequested
  | AIHintProposed
  | AIHintsCleared;

export const EndpointEventTypes = [
  'EndpointCreated',
  'EndpointUpdated',
  'EndpointPaused',
  'EndpointResumed',
  'EndpointArchived',
  'FailuresReset',
  'RunRequested',
  'AIHintProposed',
  'AIHintsCleared',
] as const;
