import type { EventEnvelope } from '@cronicorn/events';
import type { PoolClient } from 'pg';
import { aggregateLock, isEvent, lockAggregate, Projection } from '../projection';

// Endpoints of the job, live and archived, as rm_endpoints has them (the endpoints
// projection runs first). Counted under the job's aggregate lock.
const COUNTS = `
  (SELECT count(*) FROM rm_endpoints WHERE job_id = $1 AND created_at IS NOT NULL AND status <> 'archived'),
  (SELECT count(*) FROM rm_endpoints WHERE job_id = $1 AND created_at IS NOT NULL AND status = 'archived')`;

/**
 * `rm_jobs`: one row per job from its own stream, plus the number of its endpoints,
 * recounted whenever the job or one of its endpoints appears or is archived, so the count
 * is right whichever stream arrives first.
 */
export const jobsProjection: Projection = {
  name: 'jobs',
  handles: [
    'JobCreated',
    'JobUpdated',
    'JobPaused',
    'JobResumed',
    'JobArchived',
    'EndpointCreated',
    'EndpointArchived',
  ],

  locks: (envelope) =>
    isEvent(envelope, 'JobCreated') || isEvent(envelope, 'EndpointCreated')
      ? [aggregateLock('job', envelope.data.jobId)]
      : [],

  async apply(envelope: EventEnvelope, client: PoolClient): Promise<void> {
    if (isEvent(envelope, 'JobCreated')) {
      const { jobId, name, description, createdAt } = envelope.data;
      await client.query(
        `INSERT INTO rm_jobs (job_id, tenant_id, name, description, status, created_at, updated_at,
                              endpoint_count, archived_endpoint_count)
         VALUES ($1, $2, $3, $4, 'active', $5, $5, ${COUNTS})
         ON CONFLICT (job_id) DO NOTHING`,
        [jobId, envelope.tenantId, name, description, createdAt],
      );
    } else if (isEvent(envelope, 'JobUpdated')) {
      const { jobId, changes, updatedAt } = envelope.data;
      await client.query(
        `UPDATE rm_jobs
            SET name = COALESCE($2, name),
                description = CASE WHEN $3 THEN $4 ELSE description END,
                updated_at = $5
          WHERE job_id = $1`,
        [jobId, changes.name ?? null, 'description' in changes, changes.description ?? null, updatedAt],
      );
    } else if (isEvent(envelope, 'JobPaused')) {
      const { jobId, until, reason, pausedAt } = envelope.data;
      await client.query(
        `UPDATE rm_jobs
            SET status = 'paused', paused_until = $2, pause_reason = $3, paused_at = $4, updated_at = $4
          WHERE job_id = $1 AND status <> 'archived'`,
        [jobId, until, reason, pausedAt],
      );
    } else if (isEvent(envelope, 'JobResumed')) {
      const { jobId, resumedAt } = envelope.data;
      await client.query(
        `UPDATE rm_jobs
            SET status = 'active', paused_until = NULL, pause_reason = NULL, paused_at = NULL, updated_at = $2
          WHERE job_id = $1 AND status = 'paused'`,
        [jobId, resumedAt],
      );
    } else if (isEvent(envelope, 'JobArchived')) {
      const { jobId, archivedAt } = envelope.data;
      await client.query(
        `UPDATE rm_jobs
            SET status = 'archived', archived_at = $2, updated_at = $2,
                paused_until = NULL, pause_reason = NULL, paused_at = NULL
          WHERE job_id = $1`,
        [jobId, archivedAt],
      );
    } else if (isEvent(envelope, 'EndpointCreated')) {
      await countEndpoints(client, envelope.data.jobId);
    } else if (isEvent(envelope, 'EndpointArchived')) {
      const { rows } = await client.query<{ job_id: string | null }>(
        'SELECT job_id FROM rm_endpoints WHERE endpoint_id = $1',
        [envelope.data.endpointId],
      );
      const jobId = rows[0]?.job_id;
      if (jobId) {
        await lockAggregate(client, aggregateLock('job', jobId));
        await countEndpoints(client, jobId);
      }
    }
  },
};

async function countEndpoints(client: PoolClient, jobId: string): Promise<void> {
  await client.query(
    `UPDATE rm_jobs SET (endpoint_count, archived_endpoint_count) = (SELECT ${COUNTS}) WHERE job_id = $1`,
    [jobId],
  );
}
