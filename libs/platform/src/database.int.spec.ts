import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import {
  createPool,
  ensureDatabase,
  isPostgresReachable,
  quoteIdentifier,
  withDatabaseName,
} from './database';

const serverUrl = process.env.TEST_DATABASE_BASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

async function dropDatabase(name: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

describe('Database helpers', () => {
  const name = `cronicorn_test_${randomBytes(6).toString('hex')}`;
  const url = withDatabaseName(serverUrl, name);
  afterAll(() => dropDatabase(name));

  it('should create a missing database exactly once when processes race', async () => {
    expect(await isPostgresReachable(url)).toBe(true);

    const created = await Promise.all([ensureDatabase(url), ensureDatabase(url), ensureDatabase(url)]);

    expect(created.filter(Boolean)).toHaveLength(1);
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.end();
    expect(await ensureDatabase(url)).toBe(false);
  });

  it('should report a server that does not answer as unreachable', async () => {
    expect(await isPostgresReachable('postgres://postgres@127.0.0.1:1/cronicorn', 1_000)).toBe(false);
  });

  it('should have the server drop the sessions of a vanished host within seconds, not hours', async () => {
    const pool = createPool(serverUrl, { max: 1 });
    try {
      const { rows } = await pool.query<{
        idle: string;
        interval: string;
        count: string;
        user_timeout: string;
      }>(
        `SELECT current_setting('tcp_keepalives_idle') AS idle, current_setting('tcp_keepalives_interval') AS interval,
                current_setting('tcp_keepalives_count') AS count, current_setting('tcp_user_timeout') AS user_timeout`,
      );
      expect(rows).toEqual([{ idle: '10', interval: '5', count: '3', user_timeout: '25000' }]);
    } finally {
      await pool.end();
    }
  });
});
