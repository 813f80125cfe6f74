import type { RunResponse, RunStatus, RunTrigger } from '@cronicorn/events';
import { decodeCursor, Page, PageRequest, pageSize, toPage } from '../pagination';
import { Queryable } from '../projection';
import { iso, num } from '../sql';

export type RunStatusView = RunStatus | 'running';

/** A run as `GET /v1/runs/:id` shows it. Missed and skipped plans are not runs. */
export interface RunView {
  id: string;
  tenantId: string;
  endpointId: string;
  jobId: string;
  status: RunStatusView;
  trigger: RunTrigger;
  /** The run this one retries (`POST /v1/runs/:id/retry`). */
  retryOf: string | null;
  scheduledFor: string;
  startedAt: string;
  finishedAt: string | null;
  /** startedAt − scheduledFor. */
  lateMs: number;
  durationMs: number | null;
  httpStatus: number | null;
  /** HTTP attempts inside the run (`maxAttempts`). */
  attempts: number | null;
  /** Deliveries of the work item (2 after a dispatcher crash). */
  attempt: number;
  error: string | null;
  response: RunResponse | null;
  retryAfterMs: number | null;
  /** Placeholders of the body template this run could not fill (rendered as null or empty text). */
  templateUnresolved: string[] | null;
}

export interface ListRunsFilter extends PageRequest {
  status?: RunStatusView;
}

interface RunRow {
  run_id: string;
  tenant_id: string;
  endpoint_id: string;
  job_id: string;
  status: RunStatusView;
  trigger: RunTrigger;
  retry_of: string | null;
  scheduled_for: Date;
  started_at: Date;
  first_started_at: Date;
  finished_at: Date | null;
  late_ms: string;
  duration_ms: number | null;
  http_status: number | null;
  attempts: number | null;
  attempt: number;
  error: string | null;
  response_snippet: string | null;
  response_bytes: number | null;
  response_truncated: boolean | null;
  response_content_type: string | null;
  retry_after_ms: number | null;
  template_unresolved: string[] | null;
}

function toView(row: RunRow): RunView {
  return {
    id: row.run_id,
    tenantId: row.tenant_id,
    endpointId: row.endpoint_id,
    jobId: row.job_id,
    status: row.status,
    trigger: row.trigger,
    retryOf: row.retry_of,
    scheduledFor: row.scheduled_for.toISOString(),
    startedAt: row.started_at.toISOString(),
    finishedAt: iso(row.finished_at),
    lateMs: num(row.late_ms) as number,
    durationMs: row.duration_ms,
    httpStatus: row.http_status,
    attempts: row.attempts,
    attempt: row.attempt,
    error: row.error,
    response:
      row.response_snippet !== null
        ? {
            snippet: row.response_snippet,
            bytes: row.response_bytes ?? 0,
            truncated: row.response_truncated ?? false,
            contentType: row.response_content_type,
          }
        : null,
    retryAfterMs: row.retry_after_ms,
    templateUnresolved: row.template_unresolved,
  };
}

/** The tenant's run; null for an unknown id or another tenant's. */
export async function getRun(db: Queryable, tenantId: string, runId: string): Promise<RunView | null> {
  const { rows } = await db.query<RunRow>('SELECT * FROM rm_runs WHERE tenant_id = $1 AND run_id = $2', [
    tenantId,
    runId,
  ]);
  return rows.length ? toView(rows[0]) : null;
}

/**
 * The endpoint's runs, newest first by when each first started (a redelivery moves `startedAt`
 * but not a run's place, so pages never skip or repeat it). An endpoint of another tenant
 * gives an empty page: check the endpoint with `getEndpoint` first to answer 404.
 */
export async function listRuns(
  db: Queryable,
  tenantId: string,
  endpointId: string,
  filter: ListRunsFilter = {},
): Promise<Page<RunView>> {
  const limit = pageSize(filter.limit);
  const after = decodeCursor(filter.cursor);
  const { rows } = await db.query<RunRow>(
    `SELECT * FROM rm_runs
      WHERE endpoint_id = $1 AND tenant_id = $2
        AND ($3::text IS NULL OR status = $3)
        AND ($4::timestamptz IS NULL OR (first_started_at, run_id) < ($4::timestamptz, $5::text))
      ORDER BY first_started_at DESC, run_id DESC
      LIMIT $6`,
    [endpointId, tenantId, filter.status ?? null, after?.at ?? null, after?.id ?? null, limit + 1],
  );
  return toPage(rows, limit, toView, (row) => ({ at: row.first_started_at.toISOString(), id: row.run_id }));
}
