import type { CronicornEventType, EventEnvelope, EventOfType } from '@cronicorn/events';
import type { ClientBase, Pool, PoolClient } from 'pg';

/** A pool or a client: what a read-model query needs. */
export type Queryable = Pick<Pool, 'query'> | Pick<ClientBase, 'query'>;

/** A stored event of one catalogue type. */
export type EnvelopeOf<T extends CronicornEventType> = EventEnvelope<EventOfType<T>>;

/**
 * One read model's projection: the event types it handles and how each one changes its
 * table, in SQL, inside the caller's transaction. Apply it through {@link projectEvent},
 * which makes a repeated event a no-op; the SQL itself only has to tolerate rows that do
 * not exist yet (streams arrive independently of each other).
 */
export interface Projection {
  readonly name: string;
  readonly handles: readonly CronicornEventType[];
  /** Aggregates `apply` recomputes from rows other transactions may write (see {@link aggregateLock}). */
  locks?(envelope: EventEnvelope): readonly string[];
  apply(envelope: EventEnvelope, client: PoolClient): Promise<void>;
}

/**
 * The key of a transaction-scoped advisory lock that serialises the projections recomputing
 * one aggregate (an endpoint's last run and failure streak, a job's endpoint counts) from
 * rows that concurrent transactions may be writing. A statement that starts after the lock is
 * granted sees everything committed before, so the last transaction to recompute includes
 * every write; without it, two concurrent recomputes could each miss the other's row. Keys
 * are taken in sorted order (endpoint before job), so waits cannot form a cycle.
 */
export function aggregateLock(kind: 'endpoint' | 'job', id: string): string {
  return `cronicorn.rm.${kind}.${id}`;
}

/** Narrows an envelope to one event type of the catalogue. */
export function isEvent<T extends CronicornEventType>(
  envelope: EventEnvelope,
  type: T,
): envelope is EnvelopeOf<T> {
  return envelope.type === type;
}

/**
 * Applies `envelope` to every projection that handles its type, in the order given, after
 * moving the read models' own version of its stream (`rm_stream_versions`). Returns false
 * and changes nothing when that version already covers the event, so the live consumer, a
 * rebuild or a test can apply the same event twice safely.
 *
 * Order matters where one read model reads another in the same transaction: runs before
 * endpoints (last run, failure streak), endpoints before jobs (endpoint counts) and stats
 * (job of an endpoint).
 */
export async function projectEvent(
  envelope: EventEnvelope,
  client: PoolClient,
  projections: readonly Projection[],
): Promise<boolean> {
  const handlers = projections.filter((p) => (p.handles as readonly string[]).includes(envelope.type));
  if (handlers.length === 0) return false;
  const locks = [...new Set(handlers.flatMap((p) => p.locks?.(envelope) ?? []))].sort();
  // One round trip: the aggregate locks are granted before the guard row is written.
  const { rowCount } = await client.query({
    name: 'rm.guard-version',
    text: `INSERT INTO rm_stream_versions (stream_id, version)
     SELECT $1, $2 FROM (SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))
                           FROM unnest($3::text[]) AS k) AS locked
     ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version
     WHERE rm_stream_versions.version < EXCLUDED.version`,
    values: [envelope.streamId, envelope.streamVersion, locks],
  });
  if (!rowCount) return false;
  for (const projection of handlers) await projection.apply(envelope, client);
  return true;
}

/** Takes an aggregate lock in the middle of `apply`, when the key is only known from a read. */
export async function lockAggregate(client: PoolClient, key: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
}
