import { Client, ClientBase, Pool, PoolClient } from 'pg';

export interface CreatePoolOptions {
  /** Connections per process; keep replicas × max below the server's `max_connections`. */
  max?: number;
  /** Shown in `pg_stat_activity`, which makes a stuck query easy to attribute. */
  applicationName?: string;
  /**
   * Called when an idle connection dies (server restart, `pg_terminate_backend`). Without a
   * listener pg re-emits it as an unhandled 'error' event and the process crashes.
   */
  onError?: (error: Error) => void;
}

export function createPool(url: string, opts: CreatePoolOptions = {}): Pool {
  const pool = new Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'cronicorn',
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    // A query waiting on a network that went silent would otherwise wait for ever: probes from
    // 10 s of silence (then the OS's interval and count) end such a connection with an error.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // Before the connection is handed out; a server that lacks one of the settings is no reason to fail.
    onConnect: async (client: ClientBase) => {
      await client.query(SHORT_SERVER_KEEPALIVES).catch(() => undefined);
    },
  });
  const onError =
    opts.onError ?? ((error: Error) => process.emitWarning(`Idle Postgres client failed: ${error.message}`));
  pool.on('error', onError);
  // pg-pool listens for errors only while a client is idle: a connection that drops while
  // checked out would otherwise raise an unhandled 'error' event and kill the process. The
  // query in flight still fails and its caller handles that.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * Postgres keeps the session of a client whose host vanished (power loss, partition) for the
 * OS keepalive time, two hours on Linux, with its locks: the row locks of an open transaction
 * (a scheduler's due rows) and session advisory locks (the relay's and the projector's
 * leadership). These settings let the server drop such a session within about 25 s.
 */
const SHORT_SERVER_KEEPALIVES = `SELECT set_config('tcp_keepalives_idle', '10', false),
  set_config('tcp_keepalives_interval', '5', false), set_config('tcp_keepalives_count', '3', false),
  set_config('tcp_user_timeout', '25000', false)`;

/** Runs `fn` in a transaction on one pooled connection; commits, or rolls back and rethrows. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
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

/** The database a connection URL points at (`postgres://…/cronicorn` → `cronicorn`). */
export function databaseNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error('The database URL names no database');
  return name;
}

/** The same server and credentials, another database. */
export function withDatabaseName(url: string, name: string): string {
  const next = new URL(url);
  next.pathname = `/${encodeURIComponent(name)}`;
  return next.toString();
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Postgres error codes this code branches on. */
export const PgErrorCode = {
  uniqueViolation: '23505',
  invalidCatalogName: '3D000',
  duplicateDatabase: '42P04',
} as const;

export function pgErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/**
 * Creates the database of `url` when it is missing, through the `postgres` maintenance
 * database of the same server. Safe when several processes start at once: the loser of the
 * race gets 42P04 (or 23505 from the catalogue's unique index), which means "it exists now".
 * Returns whether this call created it.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseNameOf(url);
  const client = new Client({
    connectionString: withDatabaseName(url, 'postgres'),
    connectionTimeoutMillis: 10_000,
  });
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (existing.rowCount) return false;
    await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
    return true;
  } catch (error) {
    const code = pgErrorCode(error);
    if (code === PgErrorCode.duplicateDatabase || code === PgErrorCode.uniqueViolation) return false;
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * True when a Postgres server answers at `url`. A missing database still counts as reachable
 * (`ensureDatabase` fixes that); a refused connection, a timeout or bad credentials do not.
 */
export async function isPostgresReachable(url: string, timeoutMs = 3_000): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (error) {
    return pgErrorCode(error) === PgErrorCode.invalidCatalogName;
  } finally {
    await client.end().catch(() => undefined);
  }
}
