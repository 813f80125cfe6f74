import type { EventEnvelope } from '@cronicorn/events';
import type { PoolClient } from 'pg';
import { isEvent, Projection } from '../projection';

/**
 * `rm_runs`: one row per run stream. `RunStarted` opens it as `running` (a redelivery to
 * another dispatcher moves `attempt` and `startedAt`); `RunFinished` carries every field, so
 * it also stands on its own. `first_started_at` is the start the row opened with and never
 * moves: the run list pages by it.
 */
export const runsProjection: Projection = {
  name: 'runs',
  handles: ['RunStarted', 'RunFinished'],

  async apply(envelope: EventEnvelope, client: PoolClient): Promise<void> {
    if (isEvent(envelope, 'RunStarted')) {
      const d = envelope.data;
      await client.query({
        name: 'rm.runs.started',
        text: `INSERT INTO rm_runs (run_id, tenant_id, endpoint_id, job_id, status, trigger, retry_of,
                              scheduled_for, started_at, first_started_at, late_ms, attempt)
         VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, $8, $8, $9, $10)
         ON CONFLICT (run_id) DO UPDATE
           SET started_at = EXCLUDED.started_at, late_ms = EXCLUDED.late_ms, attempt = EXCLUDED.attempt
         WHERE rm_runs.status = 'running'`,
        values: [
          d.runId,
          envelope.tenantId,
          d.endpointId,
          d.jobId,
          d.trigger,
          d.retryOf,
          d.scheduledFor,
          d.startedAt,
          d.lateMs,
          d.attempt,
        ],
      });
    } else if (isEvent(envelope, 'RunFinished')) {
      const d = envelope.data;
      await client.query({
        name: 'rm.runs.finished',
        text: `INSERT INTO rm_runs (run_id, tenant_id, endpoint_id, job_id, status, trigger, retry_of,
                              scheduled_for, started_at, first_started_at, finished_at, late_ms, duration_ms,
                              http_status, attempts, attempt, error, response_snippet, response_bytes,
                              response_truncated, response_content_type, retry_after_ms, template_unresolved)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14, 1, $15, $16, $17, $18, $19, $20, $21)
         ON CONFLICT (run_id) DO UPDATE
           SET status = EXCLUDED.status, scheduled_for = EXCLUDED.scheduled_for, started_at = EXCLUDED.started_at,
               finished_at = EXCLUDED.finished_at, late_ms = EXCLUDED.late_ms, duration_ms = EXCLUDED.duration_ms,
               http_status = EXCLUDED.http_status, attempts = EXCLUDED.attempts, error = EXCLUDED.error,
               response_snippet = EXCLUDED.response_snippet, response_bytes = EXCLUDED.response_bytes,
               response_truncated = EXCLUDED.response_truncated,
               response_content_type = EXCLUDED.response_content_type, retry_after_ms = EXCLUDED.retry_after_ms,
               template_unresolved = EXCLUDED.template_unresolved`,
        values: [
          d.runId,
          envelope.tenantId,
          d.endpointId,
          d.jobId,
          d.status,
          d.trigger,
          d.retryOf,
          d.scheduledFor,
          d.startedAt,
          d.finishedAt,
          Date.parse(d.startedAt) - Date.parse(d.scheduledFor),
          d.durationMs,
          d.httpStatus,
          d.attempts,
          d.error,
          d.response?.snippet ?? null,
          d.response?.bytes ?? null,
          d.response?.truncated ?? null,
          d.response?.contentType ?? null,
          d.retryAfterMs,
          d.templateUnresolved ?? null,
        ],
      });
    }
  },
};
