import { Logger } from '@nestjs/common';
import type { Pool } from 'pg';
import { createPool, ensureDatabase } from '../database';
import { runMigrations } from '../migrations';
import { deferred, describeError, retryUntilSuccess, withTimeout } from './retry';

export interface DependencyCheck {
  ok: boolean;
  error?: string;
}

/**
 * Owns the app's Postgres pool. The pool exists from the start; `start()` creates the
 * database and runs migrations in the background, retrying while Postgres is unreachable,
 * so the process keeps answering `/healthz` (and `/readyz` says 503) meanwhile.
 */
export class DatabaseRuntime {
  readonly pool: Pool;
  private readonly log = new Logger('Postgres');
  private readonly migrated = deferred<void>();
  private isMigrated = false;
  private readonly abort = new AbortController();
  private closed = false;

  constructor(
    private readonly databaseUrl: string,
    applicationName = 'cronicorn',
    poolSize = 10,
  ) {
    this.pool = createPool(databaseUrl, {
      applicationName,
      max: poolSize,
      onError: (error) => this.log.warn(`idle connection lost: ${describeError(error)}`),
    });
  }

  /** Resolves once the database exists and is migrated. */
  get ready(): Promise<void> {
    return this.migrated.promise;
  }

  start(): void {
    void retryUntilSuccess(
      async () => {
        await ensureDatabase(this.databaseUrl);
        await runMigrations(this.pool, undefined, (message) => this.log.log(message));
      },
      {
        what: `Postgres at ${redactUrl(this.databaseUrl)}`,
        signal: this.abort.signal,
        onRetry: (m) => this.log.warn(m),
      },
    ).then((result) => {
      if (this.abort.signal.aborted || result === null) return;
      this.isMigrated = true;
      this.log.log('database ready (migrations applied)');
      this.migrated.resolve();
    });
  }

  /** `SELECT 1` within `timeoutMs`; not ok before migrations have run. */
  async check(timeoutMs = 1500): Promise<DependencyCheck> {
    if (this.closed) return { ok: false, error: 'closed' };
    try {
      await withTimeout(this.pool.query('SELECT 1'), timeoutMs, 'SELECT 1');
    } catch (error) {
      return { ok: false, error: describeError(error) };
    }
    return this.isMigrated ? { ok: true } : { ok: false, error: 'migrations not applied yet' };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    await this.pool.end().catch((error: unknown) => this.log.warn(`closing pool: ${describeError(error)}`));
  }
}

/** The URL without its password, for log lines. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
