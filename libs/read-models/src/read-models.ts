import type { EventEnvelope } from '@cronicorn/events';
import type { PoolClient } from 'pg';
import { analysesProjection } from './analyses/analyses.projection';
import { endpointsProjection } from './endpoints/endpoints.projection';
import { jobsProjection } from './jobs/jobs.projection';
import { Projection, projectEvent, projectEvents } from './projection';
import { runsProjection } from './runs/runs.projection';
import { statsProjection } from './stats/stats.projection';

/** Every projection, in the order they must run for one event (see `projectEvents`). */
export const READ_MODEL_PROJECTIONS: readonly Projection[] = [
  runsProjection,
  endpointsProjection,
  jobsProjection,
  analysesProjection,
  statsProjection,
];

/** The tables a rebuild empties: every read model and the read models' stream versions. */
export const READ_MODEL_TABLES = [
  'rm_stream_versions',
  'rm_jobs',
  'rm_endpoints',
  'rm_runs',
  'rm_analyses',
  'rm_run_stats_hourly',
] as const;

/** Applies one event to every read model in the caller's transaction; false if it was already applied. */
export function projectToReadModels(envelope: EventEnvelope, client: PoolClient): Promise<boolean> {
  return projectEvent(envelope, client, READ_MODEL_PROJECTIONS);
}

/** Applies events, in order, to every read model in the caller's transaction; returns those applied. */
export function projectEventsToReadModels(
  envelopes: readonly EventEnvelope[],
  client: PoolClient,
): Promise<EventEnvelope[]> {
  return projectEvents(envelopes, client, READ_MODEL_PROJECTIONS);
}
