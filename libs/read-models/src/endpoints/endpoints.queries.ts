import type { EndpointConfig, HintKind, HintSource, RunStatus } from '@cronicorn/events';
import { decodeCursor, Page, PageRequest, pageSize, toPage } from '../pagination';
import { Queryable } from '../projection';
import { iso, statusAt } from '../sql';

export type EndpointStatusView = 'active' | 'paused' | 'archived';

/** The endpoint's configuration as the API shows it: secret header values never, only names. */
export type EndpointConfigView = Omit<EndpointConfig, 'secretHeaders'> & { secretHeaderNames: string[] };

/** A hint as `AIHintProposed` recorded it (already clamped to the endpoint's bounds). */
export interface HintView {
  hintId: string;
  kind: HintKind;
  /** Interval in ms (`interval`) or an ISO instant (`one_shot`: run at; `pause`: paused until). */
  value: number | string;
  requested: number | string | null;
  expiresAt: string;
  reason: string;
  source: HintSource;
  model: string | null;
  proposedAt: string;
}

/**
 * The governor's reasons for planning no run (DESIGN §5 rule 1) that the read model can tell
 * from the endpoint's state: `NextRunPlanned` has no "nothing planned" form to project.
 */
export const NO_RUN_REASONS = [
  'archived',
  'job_archived',
  'paused',
  'pause_after_failures',
  'job_paused',
  'ended:once',
  'ended:max_runs',
  'ended:end_at',
] as const;
export type NoRunReason = (typeof NO_RUN_REASONS)[number];

/** An endpoint as `GET /v1/endpoints/:id` shows it. Instants are ISO strings. */
export interface EndpointView {
  id: string;
  tenantId: string;
  jobId: string;
  name: string;
  description: string | null;
  config: EndpointConfigView;
  /** The endpoint's own status at query time (an expired pause reads as `active`). */
  status: EndpointStatusView;
  /** The endpoint's own pause in force, when `status` is `paused`. */
  pause: { until: string | null; reason: string | null; by: 'user' | 'failures'; pausedAt: string } | null;
  /** The job is paused at query time: the endpoint does not run either. */
  jobPaused: boolean;
  /** What the scheduler obeys: archived if the endpoint or its job is, else paused if either is. */
  effectiveStatus: EndpointStatusView;
  /** The scheduler's latest plan; null when archived or paused without an end. */
  nextRun: { runId: string; at: string; reason: string; plannedAt: string } | null;
  /** Why no run is planned, when `nextRun` is null and the endpoint's state says why; else null. */
  noRunReason: NoRunReason | null;
  /** The newest run by start, running or finished. */
  lastRun: {
    runId: string;
    status: RunStatus | 'running';
    httpStatus: number | null;
    durationMs: number | null;
    startedAt: string;
    finishedAt: string | null;
  } | null;
  /** Failed/timed-out runs since the last success, reset or resume (every run, as the scheduler counts). */
  failureStreak: number;
  lastSuccessAt: string | null;
  /** Hints not yet expired at query time, one per kind at most, in kind order; none when archived (or its job). */
  activeHints: HintView[];
  /** The latest AI analysis: which planner decided and with which model. */
  lastAnalysis: {
    analysisId: string;
    status: 'completed' | 'failed';
    at: string;
    planner: 'ai' | 'heuristic' | null;
    model: string | null;
  } | null;
  runsCount: number;
  createdAt: string;
  updatedAt: string;
  archivedAt: string | null;
}

export interface ListEndpointsFilter extends PageRequest {
  jobId?: string;
  /** Filters on the endpoint's own `status` at query time. */
  status?: EndpointStatusView;
  /** Archived endpoints are left out unless asked for here or with `status: 'archived'`. */
  includeArchived?: boolean;
  now?: Date;
}

interface EndpointRow {
  endpoint_id: string;
  tenant_id: string;
  job_id: string;
  name: string;
  description: string | null;
  config: EndpointConfigView;
  own_status: EndpointStatusView;
  paused_until: Date | null;
  pause_reason: string | null;
  paused_by: 'user' | 'failures' | null;
  paused_at: Date | null;
  archived_at: Date | null;
  hints: HintView[];
  next_run_id: string | null;
  next_run_at: Date | null;
  next_run_reason: string | null;
  next_run_planned_at: Date | null;
  last_run_id: string | null;
  last_run_status: RunStatus | 'running' | null;
  last_run_http_status: number | null;
  last_run_duration_ms: number | null;
  last_run_started_at: Date | null;
  last_run_finished_at: Date | null;
  last_success_at: Date | null;
  failure_streak: number;
  runs_count: number;
  last_analysis_id: string | null;
  last_analysis_status: 'completed' | 'failed' | null;
  last_analysis_at: Date | null;
  planner: 'ai' | 'heuristic' | null;
  planner_model: string | null;
  created_at: Date;
  updated_at: Date;
  job_status: EndpointStatusView | null;
  job_paused_until: Date | null;
  /** Null when not counted (see SCHEDULED_RUNS). */
  scheduled_runs: number | null;
  /** Null when the schedule is not one-time (see ONCE_RAN). */
  once_ran: boolean | null;
}

// The runs the schedule made, as the governor counts them for `maxRuns` (manual, trigger and
// retry runs aside), counted only when it matters.
const SCHEDULED_RUNS = `
  CASE WHEN (e.config->>'maxRuns') IS NOT NULL
       THEN (SELECT count(*)::int FROM rm_runs r WHERE r.endpoint_id = e.endpoint_id AND r.trigger = 'schedule')
  END`;

// A one-time schedule has run: a scheduled run at or after its runAt. Runs of an earlier
// schedule (the endpoint was changed to this one-time run) came before it and do not count.
const ONCE_RAN = `
  CASE WHEN e.config->'schedule'->>'kind' = 'once'
       THEN EXISTS (SELECT 1 FROM rm_runs r
                     WHERE r.endpoint_id = e.endpoint_id AND r.trigger = 'schedule'
                       AND GREATEST(r.scheduled_for, r.started_at) >= (e.config->'schedule'->>'runAt')::timestamptz)
  END`;

const SELECT = `
  SELECT e.*, ${statusAt('e', '$2::timestamptz')} AS own_status,
         ${statusAt('j', '$2::timestamptz')} AS job_status, j.paused_until AS job_paused_until,
         ${SCHEDULED_RUNS} AS scheduled_runs, ${ONCE_RAN} AS once_ran
    FROM rm_endpoints e LEFT JOIN rm_jobs j ON j.job_id = e.job_id`;

function toView(row: EndpointRow, now: Date): EndpointView {
  const jobPaused = row.job_status === 'paused';
  const archived = row.own_status === 'archived' || row.job_status === 'archived';
  const effectiveStatus: EndpointStatusView = archived
    ? 'archived'
    : row.own_status === 'paused' || jobPaused
      ? 'paused'
      : 'active';
  const pausedForGood =
    (row.own_status === 'paused' && row.paused_until === null) ||
    (jobPaused && row.job_paused_until === null);
  // The scheduler drops a plan that an update ended without an event (NextRunPlanned has no
  // "nothing planned" form): the row may still hold it.
  const nextRun =
    row.next_run_id !== null && row.next_run_at !== null && !archived && !pausedForGood && !ended(row, now)
      ? {
          runId: row.next_run_id,
          at: row.next_run_at.toISOString(),
          reason: row.next_run_reason ?? '',
          plannedAt: iso(row.next_run_planned_at) as string,
        }
      : null;
  return {
    id: row.endpoint_id,
    tenantId: row.tenant_id,
    jobId: row.job_id,
    name: row.name,
    description: row.description,
    config: row.config,
    status: row.own_status,
    pause:
      row.own_status === 'paused'
        ? {
            until: iso(row.paused_until),
            reason: row.pause_reason,
            by: row.paused_by ?? 'user',
            pausedAt: iso(row.paused_at) as string,
          }
        : null,
    jobPaused,
    effectiveStatus,
    nextRun,
    noRunReason: nextRun ? null : noRunReason(row, now),
    lastRun:
      row.last_run_id !== null && row.last_run_status !== null && row.last_run_started_at !== null
        ? {
            runId: row.last_run_id,
            status: row.last_run_status,
            httpStatus: row.last_run_http_status,
            durationMs: row.last_run_duration_ms,
            startedAt: row.last_run_started_at.toISOString(),
            finishedAt: iso(row.last_run_finished_at),
          }
        : null,
    failureStreak: row.failure_streak,
    lastSuccessAt: iso(row.last_success_at),
    activeHints: archived ? [] : row.hints.filter((h) => Date.parse(h.expiresAt) > now.getTime()),
    lastAnalysis:
      row.last_analysis_id !== null && row.last_analysis_status !== null && row.last_analysis_at !== null
        ? {
            analysisId: row.last_analysis_id,
            status: row.last_analysis_status,
            at: row.last_analysis_at.toISOString(),
            planner: row.planner,
            model: row.planner_model,
          }
        : null,
    runsCount: row.runs_count,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    archivedAt: iso(row.archived_at),
  };
}

/**
 * Why an endpoint without a planned run has none, as far as the read model tells, in the
 * governor's order (DESIGN §5 rule 1): archived (the endpoint or its job), a schedule that
 * ended (its `endAt` passed, its scheduled runs reached `maxRuns`, its one-time run made), or
 * paused without an end (the endpoint, by a user or by `pauseAfterFailures`, or its job).
 * Null when nothing here explains it: before the first plan is projected, or a schedule whose
 * next slot would fall after an `endAt` still ahead.
 */
function noRunReason(row: EndpointRow, now: Date): NoRunReason | null {
  if (row.own_status === 'archived') return 'archived';
  if (row.job_status === 'archived') return 'job_archived';
  const end = ended(row, now);
  if (end) return end;
  if (row.own_status === 'paused' && row.paused_until === null) {
    return row.paused_by === 'failures' ? 'pause_after_failures' : 'paused';
  }
  if (row.job_status === 'paused' && row.job_paused_until === null) return 'job_paused';
  return null;
}

/** The schedule has ended as the governor judges it (DESIGN §5 rule 1), or null. */
function ended(row: EndpointRow, now: Date): Extract<NoRunReason, `ended:${string}`> | null {
  const { schedule, maxRuns, endAt } = row.config;
  if (endAt && Date.parse(endAt) < now.getTime()) return 'ended:end_at';
  if (typeof maxRuns === 'number' && (row.scheduled_runs ?? 0) >= maxRuns) return 'ended:max_runs';
  if (schedule.kind === 'once' && row.once_ran === true) return 'ended:once';
  return null;
}

/** The tenant's endpoint, archived or not; null for an unknown id or another tenant's. */
export async function getEndpoint(
  db: Queryable,
  tenantId: string,
  endpointId: string,
  options: { now?: Date } = {},
): Promise<EndpointView | null> {
  const now = options.now ?? new Date();
  const { rows } = await db.query<EndpointRow>(
    `${SELECT} WHERE e.tenant_id = $1 AND e.endpoint_id = $3 AND e.created_at IS NOT NULL`,
    [tenantId, now, endpointId],
  );
  return rows.length ? toView(rows[0], now) : null;
}

/** The tenant's endpoints (of one job with `jobId`), newest first. */
export async function listEndpoints(
  db: Queryable,
  tenantId: string,
  filter: ListEndpointsFilter = {},
): Promise<Page<EndpointView>> {
  const now = filter.now ?? new Date();
  const limit = pageSize(filter.limit);
  const after = decodeCursor(filter.cursor);
  const { rows } = await db.query<EndpointRow>(
    `SELECT * FROM (${SELECT}
              WHERE e.tenant_id = $1 AND e.created_at IS NOT NULL AND ($3::text IS NULL OR e.job_id = $3)) e
      WHERE ($4::text IS NULL OR e.own_status = $4)
        AND ($5 OR $4::text = 'archived' OR e.status <> 'archived')
        AND ($6::timestamptz IS NULL OR (e.created_at, e.endpoint_id) < ($6::timestamptz, $7::text))
      ORDER BY e.created_at DESC, e.endpoint_id DESC
      LIMIT $8`,
    [
      tenantId,
      now,
      filter.jobId ?? null,
      filter.status ?? null,
      filter.includeArchived ?? false,
      after?.at ?? null,
      after?.id ?? null,
      limit + 1,
    ],
  );
  return toPage(
    rows,
    limit,
    (row) => toView(row, now),
    (row) => ({ at: row.created_at.toISOString(), id: row.endpoint_id }),
  );
}
