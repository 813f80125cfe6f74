import { Pool } from 'pg';

/**
 * One schema change: a module `NNNN_name.ts` exporting `id` (its file name) and `sql`. It runs
 * in a transaction, so it must not use statements that refuse one (CREATE INDEX CONCURRENTLY).
 * Never edit a migration that has shipped; add the next one.
 */
export interface Migration {
  readonly id: string;
  readonly sql: string;
}

export type MigrationLog = (message: string) => void;

// Any fixed number works, as long as every process uses the same one and nothing else does.
const MIGRATION_LOCK_KEY = '4702319816504817001';
const ID_PATTERN = /^\d{4}_[a-z0-9_]+$/;

function validate(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (!ID_PATTERN.test(m.id)) throw new Error(`Migration id "${m.id}" is not NNNN_snake_case`);
    // Comparing the number alone also rejects two migrations that claim the same number.
    if (i > 0 && migrations[i - 1].id.slice(0, 4) >= m.id.slice(0, 4)) {
      throw new Error(`Migrations out of order or sharing a number: ${migrations[i - 1].id}, ${m.id}`);
    }
  });
}

/**
 * Applies the missing migrations in order, each in its own transaction, and returns the ids
 * it applied. Several processes may call it at once: a session advisory lock lets one work
 * while the others wait, then find nothing left to do.
 */
export async function applyMigrations(
  pool: Pool,
  migrations: readonly Migration[],
  log: MigrationLog = () => undefined,
): Promise<string[]> {
  validate(migrations);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const { rows } = await client.query<{ id: string }>('SELECT id FROM schema_migrations');
      const done = new Set(rows.map((row) => row.id));
      const applied: string[] = [];
      for (const migration of migrations) {
        if (done.has(migration.id)) continue;
        log(`Applying migration ${migration.id}`);
        try {
          await client.query('BEGIN');
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          const reason = error instanceof Error ? error.message : String(error);
          throw new Error(`Migration ${migration.id} failed: ${reason}`, { cause: error });
        }
        applied.push(migration.id);
      }
      return applied;
    } finally {
      // If unlocking fails the connection is suspect: destroying it also drops the lock.
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch((error: Error) => {
        broken = error;
      });
    }
  } finally {
    client.release(broken);
  }
}
