import type { EventEnvelope } from '@cronicorn/events';
import type { PoolClient } from 'pg';
import { EnvelopeOf, isEvent, Projection } from '../projection';

const STARTED = {
  name: 'rm.runs.started',
  text: `INSERT INTO rm_runs (run_id, tenant_id, endpoint_id, job_id, status, trigger, retry_of,
                              scheduled_for, started_at, first_started_at, late_ms, attempt)
         SELECT v.run_id, v.tenant_id, v.endpoint_id, v.job_id, 'running', v.trigger, v.retry_of,
                v.scheduled_for, v.started_at, v.started_at, v.late_ms, v.attempt
           FROM json_to_recordset($1::json) AS v (run_id text, tenant_id text, endpoint_id text, job_id text,
                trigger text, retry_of text, scheduled_for timestamptz, started_at timestamptz, late_ms bigint,
                attempt integer)
         ON CONFLICT (run_id) DO UPDATE
           SET started_at = EXCLUDED.started_at, late_ms = EXCLUDED.late_ms, attempt = EXCLUDED.attempt
         WHERE rm_runs.status = 'running'`,
};

const FINISHED = {
  name: 'rm.runs.finished',
  text: `INSERT INTO rm_runs (run_id, tenant_id, endpoint_id, job_id, status, trigger, retry_of,
                              scheduled_for, started_at, first_started_at, finished_at, late_ms, duration_ms,
                              http_status, attempts, attempt, error, response_snippet, response_bytes,
                              response_truncated, response_content_type, retry_after_ms, template_unresolved)
         SELECT v.run_id, v.tenant_id, v.endpoint_id, v.job_id, v.status, v.trigger, v.retry_of,
                v.scheduled_for, v.started_at, v.started_at, v.finished_at, v.late_ms, v.duration_ms,
                v.http_status, v.attempts, 1, v.error, v.response_snippet, v.response_bytes,
                v.response_truncated, v.response_content_type, v.retry_after_ms, v.template_unresolved
           FROM json_to_recordset($1::json) AS v (run_id text, tenant_id text, endpoint_id text, job_id text,
                status text, trigger text, retry_of text, scheduled_for timestamptz, started_at timestamptz,
                finished_at timestamptz, late_ms bigint, duration_ms integer, http_status integer, attempts integer,
                error text, response_snippet text, response_bytes integer, response_truncated boolean,
                response_content_type text, retry_after_ms integer, template_unresolved text[])
         ON CONFLICT (run_id) DO UPDATE
           SET status = EXCLUDED.status, scheduled_for = EXCLUDED.scheduled_for, started_at = EXCLUDED.started_at,
               finished_at = EXCLUDED.finished_at, late_ms = EXCLUDED.late_ms, duration_ms = EXCLUDED.duration_ms,
               http_status = EXCLUDED.http_status, attempts = EXCLUDED.attempts, error = EXCLUDED.error,
               response_snippet = EXCLUDED.response_snippet, response_bytes = EXCLUDED.response_bytes,
               response_truncated = EXCLUDED.response_truncated,
               response_content_type = EXCLUDED.response_content_type, retry_after_ms = EXCLUDED.retry_after_ms,
               template_unresolved = EXCLUDED.template_unresolved`,
};

/** The columns both events carry. */
function runRow({ tenantId, data: d }: EnvelopeOf<'RunStarted'> | EnvelopeOf<'RunFinished'>) {
  return {
    run_id: d.runId,
    tenant_id: tenantId,
    endpoint_id: d.endpointId,
    job_id: d.jobId,
    trigger: d.trigger,
    retry_of: d.retryOf,
    scheduled_for: d.scheduledFor,
    started_at: d.startedAt,
  };
}

function startedRow(envelope: EnvelopeOf<'RunStarted'>) {
  return { ...runRow(envelope), late_ms: envelope.data.lateMs, attempt: envelope.data.attempt };
}

function finishedRow(envelope: EnvelopeOf<'RunFinished'>) {
  const d = envelope.data;
  return {
    ...runRow(envelope),
    status: d.status,
    finished_at: d.finishedAt,
    late_ms: Date.parse(d.startedAt) - Date.parse(d.scheduledFor),
    duration_ms: d.durationMs,
    http_status: d.httpStatus,
    attempts: d.attempts,
    error: d.error,
    response_snippet: d.response?.snippet ?? null,
    response_bytes: d.response?.bytes ?? null,
    response_truncated: d.response?.truncated ?? null,
    response_content_type: d.response?.contentType ?? null,
    retry_after_ms: d.retryAfterMs,
    template_unresolved: d.templateUnresolved ?? null,
  };
}

async function writeRuns(
  envelopes: readonly EventEnvelope[],
  client: PoolClient,
): Promise<readonly EventEnvelope[]> {
  const started = envelopes.filter((e) => isEvent(e, 'RunStarted')).map(startedRow);
  const finished = envelopes.filter((e) => isEvent(e, 'RunFinished')).map(finishedRow);
  if (started.length > 0) await client.query({ ...STARTED, values: [JSON.stringify(started)] });
  if (finished.length > 0) await client.query({ ...FINISHED, values: [JSON.stringify(finished)] });
  return [];
}

/**
 * `rm_runs`: one row per run stream. `RunStarted` opens it as `running` (a redelivery to
 * another dispatcher moves `attempt` and `startedAt`); `RunFinished` carries every field, so
 * it also stands on its own. `first_started_at` is the start the row opened with and never
 * moves: the run list pages by it. Events of distinct runs are written a statement per type.
 */
export const runsProjection: Projection = {
  name: 'runs',
  handles: ['RunStarted', 'RunFinished'],

  async apply(envelope: EventEnvelope, client: PoolClient): Promise<void> {
    await writeRuns([envelope], client);
  },

  applyMany: writeRuns,
};
