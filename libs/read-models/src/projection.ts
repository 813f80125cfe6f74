import type { CronicornEventType, EventEnvelope, EventOfType } from '@cronicorn/events';
import type { ClientBase, Pool, PoolClient } from 'pg';

/** A pool or a client: what a read-model query needs. */
export type Queryable = Pick<Pool, 'query'> | Pick<ClientBase, 'query'>;

/** A stored event of one catalogue type. */
export type EnvelopeOf<T extends CronicornEventType> = EventEnvelope<EventOfType<T>>;

/**
 * One read model's projection: the event types it handles and how each one changes its
 * table, in SQL, inside the caller's transaction. Apply it through {@link projectEvents},
 * which makes a repeated event a no-op; the SQL itself only has to tolerate rows that do
 * not exist yet (streams arrive independently of each other).
 */
export type Projection = ProjectionInfo &
  (
    | {
        apply(envelope: EventEnvelope, client: PoolClient): Promise<void>;
        /**
         * The set-based form of `apply`, for events about distinct endpoints (they commute):
         * applies those it can in a statement per type and returns the rest, which go through
         * `apply` one by one.
         */
        applyMany?(
          envelopes: readonly EventEnvelope[],
          client: PoolClient,
        ): Promise<readonly EventEnvelope[]>;
        applyBatch?: never;
      }
    | {
        /**
         * For a projection whose changes commute (sums): the batch's events it handles, at once,
         * after the other projections applied theirs.
         */
        applyBatch(envelopes: readonly EventEnvelope[], client: PoolClient): Promise<void>;
        apply?: never;
        applyMany?: never;
      }
  );

interface ProjectionInfo {
  readonly name: string;
  readonly handles: readonly CronicornEventType[];
  /** Aggregates `apply` recomputes from rows other transactions may write (see {@link aggregateLock}). */
  locks?(envelope: EventEnvelope): readonly string[];
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
 * Applies `envelope` to every projection that handles its type, like {@link projectEvents};
 * returns false and changes nothing when it was applied already.
 */
export async function projectEvent(
  envelope: EventEnvelope,
  client: PoolClient,
  projections: readonly Projection[],
): Promise<boolean> {
  return (await projectEvents([envelope], client, projections)).length === 1;
}

/**
 * Applies each envelope, in the order given, to every projection that handles its type, after
 * moving the read models' own version of its stream (`rm_stream_versions`). An event the
 * version already covers (or an earlier one of the batch moved it past) is skipped, so the
 * live consumer, a rebuild or a test can apply the same event twice safely. Returns the
 * events applied.
 *
 * The guard costs three statements per batch, not one per event: the aggregate locks of the
 * whole batch are taken first, in sorted order, then the streams' versions are read under
 * their row locks by a statement that starts after those locks were granted.
 *
 * The events are applied in waves (see {@link waves}): every projection takes a wave before
 * the next wave is applied, through `applyMany` where it has one. Order matters where one read
 * model reads another in the same transaction: runs before endpoints (last run, failure
 * streak), endpoints before jobs (endpoint counts). Projections that take the batch at once
 * (`applyBatch`: stats, which reads the job of an endpoint) run after all the others.
 */
export async function projectEvents(
  envelopes: readonly EventEnvelope[],
  client: PoolClient,
  projections: readonly Projection[],
): Promise<EventEnvelope[]> {
  const wanted = envelopes
    .map((envelope) => ({
      envelope,
      handlers: projections.filter((p) => (p.handles as readonly string[]).includes(envelope.type)),
    }))
    .filter(({ handlers }) => handlers.length > 0);
  if (wanted.length === 0) return [];
  const streamIds = [...new Set(wanted.map(({ envelope }) => envelope.streamId))];
  const locks = [
    ...new Set(
      wanted.flatMap(({ envelope, handlers }) => handlers.flatMap((p) => p.locks?.(envelope) ?? [])),
    ),
  ].sort();
  await client.query({
    name: 'rm.guard-lock',
    // A row per stream (version 0 until moved below) gives the next statement a row to lock.
    text: `INSERT INTO rm_stream_versions (stream_id, version)
     SELECT s, 0 FROM unnest($1::text[]) AS s,
          (SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest($2::text[]) AS k) AS locked
     ON CONFLICT (stream_id) DO NOTHING`,
    values: [streamIds, locks],
  });
  const { rows } = await client.query<{ stream_id: string; version: number }>({
    name: 'rm.guard-read',
    text: `SELECT stream_id, version FROM rm_stream_versions WHERE stream_id = ANY($1::text[])
            ORDER BY stream_id COLLATE "C" FOR UPDATE`,
    values: [streamIds],
  });
  const versions = new Map(rows.map((row) => [row.stream_id, row.version]));
  const due = wanted.filter(({ envelope }) => {
    if (envelope.streamVersion <= (versions.get(envelope.streamId) ?? 0)) return false;
    versions.set(envelope.streamId, envelope.streamVersion);
    return true;
  });
  if (due.length === 0) return [];
  const moved = [...new Set(due.map(({ envelope }) => envelope.streamId))];
  await client.query({
    name: 'rm.guard-move',
    text: `UPDATE rm_stream_versions v SET version = m.version
             FROM unnest($1::text[], $2::int[]) AS m (stream_id, version)
            WHERE v.stream_id = m.stream_id`,
    values: [moved, moved.map((id) => versions.get(id)!)],
  });
  for (const wave of waves(due)) {
    for (const projection of projections) {
      if (!projection.apply) continue;
      const mine = wave
        .filter(({ handlers }) => handlers.includes(projection))
        .map(({ envelope }) => envelope);
      const left = mine.length > 1 && projection.applyMany ? await projection.applyMany(mine, client) : mine;
      for (const envelope of left) await projection.apply(envelope, client);
    }
  }
  for (const projection of projections) {
    if (!projection.applyBatch) continue;
    const mine = due.filter(({ handlers }) => handlers.includes(projection)).map(({ envelope }) => envelope);
    if (mine.length > 0) await projection.applyBatch(mine, client);
  }
  return due.map(({ envelope }) => envelope);
}

/**
 * Splits events, kept in order per endpoint, into waves that each hold at most one event of an
 * endpoint: the k-th event of every endpoint goes to wave k. Events of different endpoints
 * touch different rows (or recount a job's endpoints, or add to sums), so a wave's events
 * commute and can be applied in a statement per type. An event without an endpoint (tenant
 * and job events) is a barrier: it is applied alone, after what came before it.
 */
function waves<T extends { envelope: EventEnvelope }>(items: readonly T[]): T[][] {
  const result: T[][] = [];
  let open: T[][] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const { endpointId } = item.envelope.data as { endpointId?: unknown };
    if (typeof endpointId !== 'string') {
      result.push(...open, [item]);
      open = [];
      seen.clear();
      continue;
    }
    const k = seen.get(endpointId) ?? 0;
    seen.set(endpointId, k + 1);
    (open[k] ??= []).push(item);
  }
  result.push(...open);
  return result;
}

/** Takes an aggregate lock in the middle of `apply`, when the key is only known from a read. */
export async function lockAggregate(client: PoolClient, key: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
}
