import { randomUUID } from 'node:crypto';
import {
  CURRENT_SCHEMA_VERSION,
  Event,
  EventEnvelope,
  EventMetadata,
  isCronicornEventType,
  UpcasterRegistry,
  upcasters as defaultUpcasters,
} from '@cronicorn/events';
import { Pool, PoolClient } from 'pg';
import { ConcurrencyError } from './errors';
import {
  AppendManyItem,
  AppendManyOptions,
  AppendOptions,
  AppendResult,
  EVENTS_NOTIFY_CHANNEL,
  EventStore,
  LOG_START,
  LogCheckpoint,
  ReadAllOptions,
  ReadAllResult,
  ReadStreamOptions,
} from './event-store';

interface EventRow {
  position: string;
  transaction_id: string;
  stream_id: string;
  stream_version: number;
  event_id: string;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: EventMetadata;
  tenant_id: string;
  occurred_at: Date;
}

type ReadAllRow = Partial<EventRow> & {
  head_transaction_id: string;
  head_position: string;
  scan_end_transaction_id: string | null;
  scan_end_position: string | null;
  scanned: number | null;
};

const columns = (table = 'events') =>
  `${table}.position::text AS position, ${table}.transaction_id::text AS transaction_id, ${table}.stream_id,
   ${table}.stream_version, ${table}.event_id, ${table}.type, ${table}.schema_version, ${table}.data,
   ${table}.metadata, ${table}.tenant_id, ${table}.occurred_at`;

const UNIQUE_VIOLATION = '23505';
const DEFAULT_READ_LIMIT = 500;
/** A filtered read looks at up to this many times its limit of log entries per call. */
const SCAN_WINDOW_FACTOR = 10;
const ANY_VERSION_ATTEMPTS = 10;
const DIGITS = /^\d+$/;

/**
 * `scanned`, `scan_end` and `page` of a read of a window of the log: up to `window` events
 * after the checkpoint ($1, $2) are scanned, and up to `limit` of them that pass the filters
 * given are the page. Only the filters in use are in the text, so each combination is a
 * statement of its own whose generic plan is as good as a custom one: Postgres plans it once
 * per connection, not at every read.
 */
function pageByWindow(
  options: ReadAllOptions,
  limit: number,
  window: number,
  values: unknown[],
): { key: string; sql: string } {
  const param = (value: unknown) => `$${values.push(value)}`;
  const scanned = [
    options.tenantId != null && `e.tenant_id = ${param(options.tenantId)}`,
    options.streamId != null && `e.stream_id = ${param(options.streamId)}`,
  ];
  const wanted = [
    options.types != null && `s.type = ANY(${param(options.types)}::text[])`,
    options.tenantIds != null && `s.tenant_id = ANY(${param(options.tenantIds)}::text[])`,
    options.categories != null &&
      `split_part(s.stream_id, '-', 1) = ANY(${param(options.categories)}::text[])`,
    options.unhandledBy != null &&
      `NOT EXISTS (SELECT 1 FROM consumer_stream_versions v
                    WHERE v.consumer = ${param(options.unhandledBy)} AND v.stream_id = s.stream_id
                      AND v.version >= s.stream_version)`,
  ];
  const and = (conditions: Array<string | false>) =>
    conditions.map((condition) => (condition ? `AND ${condition}` : '')).join(' ');
  const sql = `
       scanned AS (
         SELECT e.position, e.transaction_id, e.stream_id, e.stream_version, e.type, e.tenant_id FROM events e
          WHERE (e.transaction_id, e.position) > ($1::xid8, $2::bigint)
            AND e.transaction_id < (SELECT xmin FROM snapshot)
            ${and(scanned)}
          ORDER BY e.transaction_id, e.position
          LIMIT ${param(window)}
       ),
       scan_end AS (
         SELECT s.transaction_id, s.position, count(*) OVER () AS scanned FROM scanned s
          ORDER BY s.transaction_id DESC, s.position DESC
          LIMIT 1
       ),
       page AS (
         SELECT e.* FROM (
           SELECT s.position FROM scanned s
            WHERE true ${and(wanted)}
            ORDER BY s.transaction_id, s.position
            LIMIT ${param(limit)}
         ) wanted JOIN events e ON e.position = wanted.position
       )`;
  const key = [...scanned, ...wanted].map((condition) => (condition ? '1' : '0')).join('');
  return { key, sql };
}

/**
 * Types nearly every event has (each run appends them), left out of the index by type
 * (migration 0003) to spare the appends: a window of the log finds them at once.
 */
const PER_RUN_TYPES: readonly string[] = ['NextRunPlanned', 'RunStarted', 'RunFinished'];

/**
 * The same for tenant $4's events of types $5 (distinct, none of `PER_RUN_TYPES`): up to $3
 * from each type's ordered scan of the partial index (tenant_id, type, transaction_id,
 * position), merged. No window: `scan_end` is empty.
 */
const PAGE_BY_TYPE = `
       scan_end AS (SELECT NULL::xid8 AS transaction_id, NULL::bigint AS position, NULL::bigint AS scanned WHERE false),
       page AS (
         SELECT e.* FROM (
           SELECT m.position, m.transaction_id FROM unnest($5::text[]) AS t(type)
             CROSS JOIN LATERAL (
               SELECT e.position, e.transaction_id FROM events e
                WHERE e.tenant_id = $4 AND e.type = t.type
                  AND e.type NOT IN (${PER_RUN_TYPES.map((type) => `'${type}'`).join(', ')})
                  AND (e.transaction_id, e.position) > ($1::xid8, $2::bigint)
                  AND e.transaction_id < (SELECT xmin FROM snapshot)
                ORDER BY e.transaction_id, e.position
                LIMIT $3
             ) m
            ORDER BY m.transaction_id, m.position
            LIMIT $3
         ) wanted JOIN events e ON e.position = wanted.position
       )`;

/** Log order of two checkpoints: negative when `a` comes first, 0 when they are the same. */
export function compareCheckpoints(a: LogCheckpoint, b: LogCheckpoint): number {
  const byTransaction = BigInt(a.transactionId) - BigInt(b.transactionId);
  const delta = byTransaction !== 0n ? byTransaction : BigInt(a.position) - BigInt(b.position);
  return delta === 0n ? 0 : delta < 0n ? -1 : 1;
}

export interface BeginOptions {
  repeatableRead?: boolean;
  /** false: do not wait for the WAL flush on commit (work that can be redone from the log). */
  durableCommit?: boolean;
  /**
   * Plan the transaction's statements generically: for transactions whose statements all look
   * rows up by key, which Postgres would otherwise plan again at most calls (a custom plan for
   * a few keys looks cheaper than the generic one).
   */
  genericPlans?: boolean;
}

/** `BEGIN` with its settings, in one round trip: a simple query may hold several statements. */
export function beginStatement(options: BeginOptions = {}): string {
  return [
    options.repeatableRead ? 'BEGIN ISOLATION LEVEL REPEATABLE READ' : 'BEGIN',
    ...(options.durableCommit === false ? ['SET LOCAL synchronous_commit = off'] : []),
    ...(options.genericPlans ? ['SET LOCAL plan_cache_mode = force_generic_plan'] : []),
  ].join('; ');
}

const isUniqueViolation = (error: unknown) =>
  typeof error === 'object' && error !== null && 'code' in error && error.code === UNIQUE_VIOLATION;

function schemaVersionOf(type: string): number {
  return isCronicornEventType(type) ? CURRENT_SCHEMA_VERSION[type] : 1;
}

/** The event store on one Postgres table (migration 0001_event_store). */
export class PostgresEventStore implements EventStore {
  constructor(
    private readonly pool: Pool,
    private readonly upcasters: UpcasterRegistry = defaultUpcasters,
    /** Told of every successful append (for metrics); with `client`, before the caller commits. */
    private readonly onAppended: (envelopes: readonly EventEnvelope[]) => void = () => undefined,
  ) {}

  async append(streamId: string, events: readonly Event[], options: AppendOptions): Promise<AppendResult> {
    const [result] = await this.appendMany(
      [{ streamId, events, expectedVersion: options.expectedVersion }],
      options,
    );
    return result;
  }

  async appendMany(
    batch: readonly AppendManyItem[],
    options: AppendManyOptions = {},
  ): Promise<AppendResult[]> {
    const appended = (results: AppendResult[]) => {
      this.onAppended(results.flatMap((result) => result.envelopes));
      return results;
    };
    if (options.client) return appended(await this.appendInTransaction(options.client, batch, options));
    for (let attempt = 1; ; attempt++) {
      try {
        return appended(
          await this.inOwnTransaction((client) => this.appendInTransaction(client, batch, options)),
        );
      } catch (error) {
        // `any` has no expectation to break: a lost race only needs the next free version.
        const retry = error instanceof ConcurrencyError && error.expectedVersion === 'any';
        if (!retry || attempt >= ANY_VERSION_ATTEMPTS) throw error;
      }
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    const { rows } = await this.pool.query<EventRow>(
      options.asOf
        ? {
            name: 'events.read-stream-as-of',
            // The stream up to its first event dated later: appenders with their own clocks can
            // date an event before the one it follows, which was there first.
            text: `SELECT ${columns()} FROM events
              WHERE stream_id = $1 AND stream_version >= $2
                AND stream_version < COALESCE(
                      (SELECT min(later.stream_version) FROM events later
                        WHERE later.stream_id = $1 AND later.occurred_at > $3), 2147483647)
              ORDER BY stream_version`,
            values: [streamId, options.fromVersion ?? 1, options.asOf],
          }
        : {
            name: 'events.read-stream',
            text: `SELECT ${columns()} FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version`,
            values: [streamId, options.fromVersion ?? 1],
          },
    );
    return rows.map((row) => this.toEnvelope(row));
  }

  async streamVersion(streamId: string): Promise<number> {
    const { rows } = await this.pool.query<{ version: number }>(
      'SELECT COALESCE(max(stream_version), 0) AS version FROM events WHERE stream_id = $1',
      [streamId],
    );
    return rows[0].version;
  }

  /**
   * Reads the log in (transaction id, position) order, only below the oldest transaction still
   * in flight. Every transaction with a smaller id has then finished, so no event can later
   * appear before the returned checkpoint: a tailing reader never skips a late commit. The
   * price is lag, not loss: a long-running write transaction anywhere on the server holds the
   * tail back until it ends.
   */
  async readAll(after: LogCheckpoint, options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const limit = options.limit ?? DEFAULT_READ_LIMIT;
    const db = options.client ?? this.pool;
    if (options.tenantIds?.length === 0) {
      const head = await this.headOf(db);
      return { events: [], checkpoint: compareCheckpoints(head, after) > 0 ? head : after, more: false };
    }
    // A tenant's events of rare types have their own index (tenant, type, log order): the page
    // is a merge of one ordered index scan per type, whatever lies between the matches.
    const byType = Boolean(
      options.types &&
      options.tenantId &&
      !options.streamId &&
      !options.categories &&
      !options.unhandledBy &&
      !options.tenantIds &&
      !options.types.some((type) => PER_RUN_TYPES.includes(type)),
    );
    const filtered =
      !byType && Boolean(options.types || options.categories || options.unhandledBy || options.tenantIds);
    // Filters that no index serves look at a bounded window of the log per call: an unbounded
    // scan made each sweep of a consumer that runs behind read its whole backlog, every time.
    const window = filtered ? limit * SCAN_WINDOW_FACTOR : limit;
    // One statement, so the page and the head are cut at the same snapshot. The xmin is a
    // scalar subquery so that the scans use it as an index bound: as a join filter, the head's
    // backward scan walked every event of the transactions still in flight, each time.
    const values: unknown[] = [after.transactionId, after.position];
    const page = byType ? { key: 'type', sql: PAGE_BY_TYPE } : pageByWindow(options, limit, window, values);
    if (byType) values.push(limit, options.tenantId, [...new Set(options.types)]);
    const { rows } = await db.query<ReadAllRow>({
      name: `events.read-all-${page.key}`,
      text: `WITH snapshot AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
       ${page.sql},
       head AS (
         SELECT e.transaction_id, e.position FROM events e
          WHERE e.transaction_id < (SELECT xmin FROM snapshot)
          ORDER BY e.transaction_id DESC, e.position DESC
          LIMIT 1
       )
       SELECT head.transaction_id::text AS head_transaction_id, head.position::text AS head_position,
              scan_end.transaction_id::text AS scan_end_transaction_id, scan_end.position::text AS scan_end_position,
              scan_end.scanned::int AS scanned, ${columns('page')}
         FROM head LEFT JOIN scan_end ON true LEFT JOIN page ON true
        ORDER BY page.transaction_id, page.position`,
      values,
    });
    const pageRows = rows.filter((row) => row.event_id !== null) as EventRow[];
    const upTo = options.occurredUpTo?.getTime();
    const aheadAfter = options.datedAheadAfter?.getTime() ?? Number.POSITIVE_INFINITY;
    const tooNew =
      upTo === undefined
        ? -1
        : pageRows.findIndex(
            (row) => row.occurred_at.getTime() > upTo && row.occurred_at.getTime() <= aheadAfter,
          );
    if (tooNew >= 0) {
      const cut = pageRows[tooNew];
      const before = options.unhandledBy
        ? // The page left handled events out: the checkpoint moves over those before the cut too.
          await this.lastBefore(db, { transactionId: cut.transaction_id, position: cut.position })
        : pageRows[tooNew - 1];
      const checkpoint = before ? { transactionId: before.transaction_id, position: before.position } : after;
      return {
        events: pageRows.slice(0, tooNew).map((row) => this.toEnvelope(row)),
        checkpoint: compareCheckpoints(checkpoint, after) > 0 ? checkpoint : after,
        more: false,
      };
    }
    const events = pageRows.map((row) => this.toEnvelope(row));
    if (events.length === limit) {
      const last = rows[rows.length - 1] as EventRow;
      return {
        events,
        checkpoint: { transactionId: last.transaction_id, position: last.position },
        more: true,
      };
    }
    const first = rows[0];
    if (first && first.scanned === window) {
      // The window is full: the log goes on past it, and so does the next read.
      return {
        events,
        checkpoint: { transactionId: first.scan_end_transaction_id!, position: first.scan_end_position! },
        more: true,
      };
    }
    // Nothing matching is left below the snapshot: skip straight to the newest visible event.
    const head = first ? { transactionId: first.head_transaction_id, position: first.head_position } : after;
    return { events, checkpoint: compareCheckpoints(head, after) > 0 ? head : after, more: false };
  }

  /** The event right before `checkpoint` in the log, if any. */
  private async lastBefore(
    db: Pool | PoolClient,
    checkpoint: LogCheckpoint,
  ): Promise<{ transaction_id: string; position: string } | undefined> {
    const { rows } = await db.query<{ transaction_id: string; position: string }>(
      `SELECT transaction_id::text AS transaction_id, position::text AS position FROM events
        WHERE (transaction_id, position) < ($1::xid8, $2::bigint)
        ORDER BY events.transaction_id DESC, events.position DESC
        LIMIT 1`,
      [checkpoint.transactionId, checkpoint.position],
    );
    return rows[0];
  }

  async checkpointOfPosition(position: string): Promise<LogCheckpoint | null> {
    if (!DIGITS.test(position)) throw new Error(`Not a log position: "${position}"`);
    const { rows } = await this.pool.query<{ transaction_id: string }>(
      'SELECT transaction_id::text AS transaction_id FROM events WHERE position = $1::bigint',
      [position],
    );
    return rows.length ? { transactionId: rows[0].transaction_id, position } : null;
  }

  headCheckpoint(): Promise<LogCheckpoint> {
    return this.headOf(this.pool);
  }

  private async headOf(db: Pool | PoolClient): Promise<LogCheckpoint> {
    const { rows } = await db.query<{ transaction_id: string; position: string }>(
      `SELECT transaction_id::text AS transaction_id, position::text AS position FROM events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY events.transaction_id DESC, events.position DESC
        LIMIT 1`,
    );
    return rows.length ? { transactionId: rows[0].transaction_id, position: rows[0].position } : LOG_START;
  }

  private async inOwnTransaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      // An append's statements look streams up by id: one generic plan serves every append,
      // where Postgres would otherwise plan them again for most of them.
      await client.query(beginStatement({ genericPlans: true }));
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async appendInTransaction(
    client: PoolClient,
    batch: readonly AppendManyItem[],
    options: AppendManyOptions,
  ): Promise<AppendResult[]> {
    const streamIds = batch.map((item) => item.streamId);
    if (new Set(streamIds).size !== streamIds.length) throw new Error('appendMany got the same stream twice');
    for (const item of batch) {
      if (!item.events.length) throw new Error(`Nothing to append to ${item.streamId}`);
      if (!(item.metadata ?? options.metadata)?.tenantId) throw new Error(`No tenantId for ${item.streamId}`);
    }

    // pg_current_xact_id() assigns the transaction id before the INSERT draws positions, so
    // (transaction_id, position) order follows position order as closely as it can.
    // pg_notify is delivered on commit only, and repeats within a transaction fold into one.
    const { rows: versionRows } = await client.query<{ stream_id: string; version: number }>({
      name: 'events.append-versions',
      text: `SELECT pg_current_xact_id(), pg_notify($2, ''), s.stream_id,
              (SELECT COALESCE(max(e.stream_version), 0) FROM events e WHERE e.stream_id = s.stream_id) AS version
         FROM unnest($1::text[]) AS s(stream_id)`,
      values: [streamIds, EVENTS_NOTIFY_CHANNEL],
    });
    const current = new Map(versionRows.map((row) => [row.stream_id, row.version]));

    const planned = batch.map((item) => {
      const actual = current.get(item.streamId) ?? 0;
      // A number ahead of the stream fails too: appending there would leave a gap.
      if (item.expectedVersion !== 'any' && item.expectedVersion !== actual) {
        throw new ConcurrencyError(item.streamId, item.expectedVersion, actual);
      }
      const metadata = (item.metadata ?? options.metadata) as EventMetadata;
      const events = item.events.map((event, i) => ({
        id: randomUUID(),
        streamVersion: actual + i + 1,
        schemaVersion: schemaVersionOf(event.type),
        event,
      }));
      return { item, metadata, events };
    });
    const rows = planned.flatMap(({ item, metadata, events }) =>
      events.map((e) => ({ item, metadata, ...e })),
    );

    let inserted: { position: string; event_id: string; occurred_at: Date }[];
    try {
      ({ rows: inserted } = await client.query({
        name: 'events.append-insert',
        text: `INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, metadata, tenant_id, occurred_at)
         SELECT stream_id, stream_version, event_id, type, schema_version, data, metadata, tenant_id,
                COALESCE(occurred_at, date_trunc('milliseconds', now()))
           FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::int[], $6::jsonb[], $7::jsonb[], $8::text[],
                       $9::timestamptz[])
                WITH ORDINALITY AS t(stream_id, stream_version, event_id, type, schema_version, data, metadata, tenant_id,
                                     occurred_at, n)
          ORDER BY n
         RETURNING position::text AS position, event_id, occurred_at`,
        values: [
          rows.map((r) => r.item.streamId),
          rows.map((r) => r.streamVersion),
          rows.map((r) => r.id),
          rows.map((r) => r.event.type),
          rows.map((r) => r.schemaVersion),
          rows.map((r) => JSON.stringify(r.event.data)),
          rows.map((r) => JSON.stringify(r.metadata)),
          rows.map((r) => r.metadata.tenantId),
          rows.map((r) => r.item.occurredAt ?? options.occurredAt ?? null),
        ],
      }));
    } catch (error) {
      if (isUniqueViolation(error)) throw await this.concurrencyErrorFor(batch, current);
      throw error;
    }

    const stored = new Map(inserted.map((row) => [row.event_id, row]));
    return planned.map(({ item, metadata, events }) => {
      const envelopes: EventEnvelope[] = events.map((e) => {
        const row = stored.get(e.id)!;
        return {
          id: e.id,
          type: e.event.type,
          schemaVersion: e.schemaVersion,
          streamId: item.streamId,
          streamVersion: e.streamVersion,
          position: row.position,
          tenantId: metadata.tenantId,
          occurredAt: row.occurred_at.toISOString(),
          data: e.event.data,
          metadata,
        };
      });
      return {
        nextExpectedVersion: envelopes[envelopes.length - 1].streamVersion,
        envelopes,
        lastPosition: envelopes[envelopes.length - 1].position,
      };
    });
  }

  /**
   * A duplicate (stream_id, stream_version) means a concurrent append committed first (the
   * unique check waits for it). This transaction is aborted, so look at the winner through
   * another connection and name the stream that moved.
   */
  private async concurrencyErrorFor(
    batch: readonly AppendManyItem[],
    seen: Map<string, number>,
  ): Promise<ConcurrencyError> {
    const { rows } = await this.pool.query<{ stream_id: string; version: number }>(
      `SELECT stream_id, max(stream_version) AS version FROM events WHERE stream_id = ANY($1) GROUP BY stream_id`,
      [batch.map((item) => item.streamId)],
    );
    const now = new Map(rows.map((row) => [row.stream_id, row.version]));
    const moved = batch.find((item) => (now.get(item.streamId) ?? 0) !== seen.get(item.streamId)) ?? batch[0];
    return new ConcurrencyError(moved.streamId, moved.expectedVersion, now.get(moved.streamId) ?? 0);
  }

  private toEnvelope(row: EventRow): EventEnvelope {
    const { data, schemaVersion } = this.upcasters.upcast({
      type: row.type,
      schemaVersion: row.schema_version,
      data: row.data,
    });
    return {
      id: row.event_id,
      type: row.type,
      schemaVersion,
      streamId: row.stream_id,
      streamVersion: row.stream_version,
      position: row.position,
      tenantId: row.tenant_id,
      occurredAt: row.occurred_at.toISOString(),
      data: data as object,
      metadata: row.metadata,
    };
  }
}
