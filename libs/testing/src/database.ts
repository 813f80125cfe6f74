import { randomBytes } from 'node:crypto';
import {
  ALL_MIGRATIONS,
  createPool,
  ensureDatabase,
  Migration,
  quoteIdentifier,
  runMigrations,
  withDatabaseName,
} from '@cronicorn/platform';
import { Client, Pool } from 'pg';

export interface TestDatabase {
  /** Connection URL of the new database, for code under test that opens its own pools. */
  url: string;
  pool: Pool;
  /** Ends `pool` and drops the database, cutting any connection still open to it. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Migrations to apply; ALL_MIGRATIONS by default, `[]` for an empty database. */
  migrations?: readonly Migration[];
  /** Pool size; raise it for tests that hold many transactions open at once. */
  max?: number;
}

const baseUrl = () => process.env.TEST_DATABASE_BASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh database `cronicorn_test_<random>` on the test server, migrated, for one suite. */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `cronicorn_test_${randomBytes(6).toString('hex')}`;
  const url = withDatabaseName(baseUrl(), name);
  await ensureDatabase(url);
  const pool = createPool(url, { max: options.max ?? 10, applicationName: 'cronicorn-test' });
  const drop = async () => {
    if (!pool.ended) await pool.end();
    const admin = new Client({ connectionString: withDatabaseName(url, 'postgres') });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  };
  try {
    await runMigrations(pool, options.migrations ?? ALL_MIGRATIONS);
  } catch (error) {
    await drop();
    throw error;
  }
  return { url, pool, drop };
}
