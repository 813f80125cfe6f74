import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { createPool } from '../database';
import { ALL_MIGRATIONS, Migration, runMigrations } from './index';

const appliedIds = async (db: TestDatabase) =>
  (await db.pool.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id')).rows.map((r) => r.id);

const tableExists = async (db: TestDatabase, name: string) =>
  (await db.pool.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [name])).rows[0].oid !==
  null;

describe('Migrations', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrations: [] });
  });
  afterEach(() => db.drop());

  it('should apply each migration once when several apps start at the same time', async () => {
    const pools = [createPool(db.url), createPool(db.url), createPool(db.url)];
    try {
      const results = await Promise.all(pools.map((pool) => runMigrations(pool)));

      const all = ALL_MIGRATIONS.map((m) => m.id);
      expect(results.flat().sort()).toEqual(all);
      expect(await appliedIds(db)).toEqual(all);
      expect(await tableExists(db, 'events')).toBe(true);
      expect(await runMigrations(db.pool)).toEqual([]);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('should apply only the migrations that are missing', async () => {
    const first: Migration = { id: '0901_first', sql: 'CREATE TABLE first_table (id int)' };
    const second: Migration = { id: '0902_second', sql: 'CREATE TABLE second_table (id int)' };
    const log: string[] = [];

    expect(await runMigrations(db.pool, [first])).toEqual(['0901_first']);
    expect(await runMigrations(db.pool, [first, second], (message) => log.push(message))).toEqual([
      '0902_second',
    ]);

    expect(log).toEqual(['Applying migration 0902_second']);
    expect(await appliedIds(db)).toEqual(['0901_first', '0902_second']);
  });

  it('should roll back a failing migration, record nothing and release the lock', async () => {
    const good: Migration = { id: '0901_good', sql: 'CREATE TABLE good_table (id int)' };
    const bad: Migration = { id: '0902_bad', sql: 'CREATE TABLE bad_table (id int); SELECT 1 / 0' };

    await expect(runMigrations(db.pool, [good, bad])).rejects.toThrow(
      /Migration 0902_bad failed: division by zero/,
    );

    expect(await appliedIds(db)).toEqual(['0901_good']);
    expect(await tableExists(db, 'bad_table')).toBe(false);
    const fixed = { ...bad, sql: 'CREATE TABLE bad_table (id int)' };
    expect(await runMigrations(db.pool, [good, fixed])).toEqual(['0902_bad']);
  });

  it("should hand the scheduler's endpoint and job bookkeeping to their own consumers", async () => {
    await runMigrations(
      db.pool,
      ALL_MIGRATIONS.filter((m) => m.id < '0031'),
    );
    await db.pool.query(
      `INSERT INTO consumer_stream_versions (consumer, stream_id, version) VALUES
         ('scheduler', 'endpoint-e1', 3), ('scheduler', 'job-j1', 2), ('scheduler', 'run-r1', 2),
         ('projector', 'endpoint-e1', 3)`,
    );
    await db.pool.query(
      `INSERT INTO consumer_checkpoints (consumer, transaction_id, position) VALUES ('scheduler', 41, 7), ('projector', 40, 9)`,
    );

    expect(await runMigrations(db.pool)).toContain('0031_scheduler_folds');

    const versions = await db.pool.query<{ consumer: string; stream_id: string; version: number }>(
      'SELECT consumer, stream_id, version FROM consumer_stream_versions ORDER BY consumer, stream_id',
    );
    expect(versions.rows).toEqual([
      { consumer: 'projector', stream_id: 'endpoint-e1', version: 3 },
      { consumer: 'scheduler', stream_id: 'run-r1', version: 2 },
      { consumer: 'scheduler-endpoints', stream_id: 'endpoint-e1', version: 3 },
      { consumer: 'scheduler-jobs', stream_id: 'job-j1', version: 2 },
    ]);
    const checkpoints = await db.pool.query<{ consumer: string; transaction_id: string; position: string }>(
      'SELECT consumer, transaction_id, position FROM consumer_checkpoints ORDER BY consumer',
    );
    expect(checkpoints.rows).toEqual([
      { consumer: 'projector', transaction_id: '40', position: '9' },
      { consumer: 'scheduler', transaction_id: '41', position: '7' },
      { consumer: 'scheduler-endpoints', transaction_id: '41', position: '7' },
      { consumer: 'scheduler-jobs', transaction_id: '41', position: '7' },
    ]);
  });

  it("should recount the endpoints' failure streak and last success over every run", async () => {
    await runMigrations(
      db.pool,
      ALL_MIGRATIONS.filter((m) => m.id < '0024'),
    );
    await db.pool.query(
      `INSERT INTO rm_endpoints (endpoint_id, tenant_id, failure_streak, last_success_at)
       VALUES ('e1', 't', 1, '2026-03-02T10:01:00Z')`,
    );
    const run = (id: string, status: string, trigger: string, minute: number) =>
      db.pool.query(
        `INSERT INTO rm_runs (run_id, tenant_id, endpoint_id, job_id, status, trigger, scheduled_for, started_at,
                              first_started_at, finished_at, late_ms, attempt)
         VALUES ($1, 't', 'e1', 'j1', $2, $3, $4, $4, $4, $4::timestamptz + interval '1 second', 0, 1)`,
        [id, status, trigger, `2026-03-02T10:0${minute}:00Z`],
      );
    await run('r1', 'success', 'schedule', 1);
    await run('r2', 'failed', 'schedule', 2);
    await run('r3', 'success', 'retry', 3);
    await run('r4', 'failed', 'trigger', 4);
    await run('r5', 'timeout', 'manual', 5);

    expect(await runMigrations(db.pool)).toContain('0024_streak_counts_every_run');

    const { rows } = await db.pool.query<{ failure_streak: number; last_success_at: Date }>(
      "SELECT failure_streak, last_success_at FROM rm_endpoints WHERE endpoint_id = 'e1'",
    );
    expect(rows).toEqual([{ failure_streak: 2, last_success_at: new Date('2026-03-02T10:03:01Z') }]);
  });

  it("should move each endpoint's latest result to its own row", async () => {
    await runMigrations(
      db.pool,
      ALL_MIGRATIONS.filter((m) => m.id < '0032'),
    );
    await db.pool.query(
      `INSERT INTO scheduler_endpoints
         (endpoint_id, tenant_id, job_id, config, created_at, status, last_finished, consecutive_failures,
          streak_since, last_failure_at)
       VALUES ('e1', 't', 'j', '{}', now(), 'active', '{"status":"failed"}', 2, '2026-01-01T00:00:00Z',
               '2026-01-01T00:01:00Z'),
              ('e2', 't', 'j', '{}', now(), 'active', NULL, 0, NULL, NULL)`,
    );

    expect(await runMigrations(db.pool)).toContain('0032_scheduler_endpoint_results');

    const { rows } = await db.pool.query(
      `SELECT endpoint_id, last_finished, consecutive_failures, streak_since, last_failure_at, version
         FROM scheduler_endpoint_results ORDER BY endpoint_id`,
    );
    expect(rows).toEqual([
      {
        endpoint_id: 'e1',
        last_finished: { status: 'failed' },
        consecutive_failures: 2,
        streak_since: new Date('2026-01-01T00:00:00Z'),
        last_failure_at: new Date('2026-01-01T00:01:00Z'),
        version: 1,
      },
    ]);
    const columns = await db.pool.query(
      `SELECT column_name FROM information_schema.columns
        WHERE table_name = 'scheduler_endpoints' AND column_name IN ('last_finished', 'consecutive_failures')`,
    );
    expect(columns.rows).toEqual([]);
  });

  it('should refuse migrations out of order or sharing a number', async () => {
    const a: Migration = { id: '0902_a', sql: 'SELECT 1' };
    const b: Migration = { id: '0901_b', sql: 'SELECT 1' };
    await expect(runMigrations(db.pool, [a, b])).rejects.toThrow(/out of order/);
    await expect(runMigrations(db.pool, [a, { ...b, id: '0902_b' }])).rejects.toThrow(/sharing a number/);
    await expect(runMigrations(db.pool, [{ id: 'create-things', sql: '' }])).rejects.toThrow(
      /NNNN_snake_case/,
    );
  });
});
