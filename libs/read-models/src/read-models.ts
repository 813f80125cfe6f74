import type { EventEnvelope } from '@cronicorn/events';
import type { EventStore } from '@cronicorn/event-store';
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

const HANDLED_TYPES: ReadonlySet<string> = new Set(READ_MODEL_PROJECTIONS.flatMap((p) => p.handles));

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

/**
 * Applies a page of the log (commit order) to the read models, each stream in version order,
 * in the caller's transaction; returns the events applied. The log is ordered by transaction
 * id, and a writer that took its id early (the scheduler locks rows, then appends under them)
 * can commit a stream's next version ahead of the one before it: the versions in between are
 * read from the store and applied first, and skipped by the guard when the log reaches them.
 */
export async function projectLogPage(
  envelopes: readonly EventEnvelope[],
  client: PoolClient,
  store: Pick<EventStore, 'readStream'>,
): Promise<EventEnvelope[]> {
  if (envelopes.length === 0) return [];
  const { rows } = await client.query<{ stream_id: string; version: number }>({
    name: 'rm.page-versions',
    text: 'SELECT stream_id, version FROM rm_stream_versions WHERE stream_id = ANY($1::text[])',
    values: [[...new Set(envelopes.map((envelope) => envelope.streamId))]],
  });
  const versions = new Map(rows.map((row) => [row.stream_id, row.version]));
  const inOrder: EventEnvelope[] = [];
  for (const envelope of envelopes) {
    const last = versions.get(envelope.streamId) ?? 0;
    if (envelope.streamVersion <= last) continue;
    if (!HANDLED_TYPES.has(envelope.type)) {
      // Nothing to apply, and the guard never moves for it: the stream is not read for it
      // (a tenant stream would be, in full, for each page). Passed only if nothing is missing.
      if (envelope.streamVersion === last + 1) versions.set(envelope.streamId, envelope.streamVersion);
      continue;
    }
    if (envelope.streamVersion > last + 1) {
      const missed = await store.readStream(envelope.streamId, { fromVersion: last + 1 });
      inOrder.push(...missed.filter((e) => e.streamVersion < envelope.streamVersion));
    }
    inOrder.push(envelope);
    versions.set(envelope.streamId, envelope.streamVersion);
  }
  return projectEventsToReadModels(inOrder, client);
}
