import { withTransaction } from '@cronicorn/platform';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { appendRichHistory, History, snapshotReadModels } from '../test/fixtures';
import { projectEventsToReadModels } from './read-models';

jest.setTimeout(60_000);

describe('projectEvents (a batch in one transaction)', () => {
  let db: TestDatabase;
  let history: History;

  const waitingForALock = async (pid: number): Promise<void> => {
    for (;;) {
      const { rows } = await db.pool.query<{ waiting: boolean }>(
        `SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1`,
        [pid],
      );
      if (rows[0]?.waiting) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  beforeEach(async () => {
    db = await createTestDatabase();
    history = new History(db.pool);
  });
  afterEach(() => db.drop());

  it('should apply each event once, skipping copies and older versions, like one event per transaction', async () => {
    const envelopes = await appendRichHistory(history, { project: true });
    const live = await snapshotReadModels(db.pool);
    await db.pool.query(
      `TRUNCATE rm_stream_versions, rm_jobs, rm_endpoints, rm_runs, rm_analyses, rm_run_stats_hourly`,
    );

    const half = Math.floor(envelopes.length / 2);
    const first = await withTransaction(db.pool, (client) =>
      projectEventsToReadModels(envelopes.slice(0, half), client),
    );
    // The rest, with copies of events applied in this batch and in the one before, and an
    // event older than its stream's newest one after it.
    const rest = envelopes.slice(half);
    const olderAfterNewer = rest.findIndex((e, i) => i > 0 && e.streamId === rest[i - 1].streamId);
    expect(olderAfterNewer).toBeGreaterThan(0);
    const batch = [
      envelopes[0],
      ...rest.slice(0, olderAfterNewer + 1),
      rest[olderAfterNewer - 1],
      rest[0],
      ...rest.slice(olderAfterNewer + 1),
      envelopes[half - 1],
    ];
    const second = await withTransaction(db.pool, (client) => projectEventsToReadModels(batch, client));

    expect(await snapshotReadModels(db.pool)).toEqual(live);
    const appliedIds = [...first, ...second].map((e) => e.id);
    expect(new Set(appliedIds).size).toBe(appliedIds.length);
    expect(second.map((e) => e.id)).toEqual(rest.map((e) => e.id).filter((id) => appliedIds.includes(id)));

    const again = await withTransaction(db.pool, (client) => projectEventsToReadModels(envelopes, client));
    expect(again).toEqual([]);
    expect(await snapshotReadModels(db.pool)).toEqual(live);
  });

  it('should apply an event of a new stream once when two transactions apply it at the same time', async () => {
    const envelopes = await appendRichHistory(history, { project: true });
    const live = await snapshotReadModels(db.pool);
    await db.pool.query(
      `TRUNCATE rm_stream_versions, rm_jobs, rm_endpoints, rm_runs, rm_analyses, rm_run_stats_hourly`,
    );
    const [slow, fast] = await Promise.all([db.pool.connect(), db.pool.connect()]);
    try {
      await slow.query('BEGIN');
      await fast.query('BEGIN');
      const slowApplied = await projectEventsToReadModels(envelopes, slow);
      const { rows } = await fast.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // The second waits for the first's locks, then finds every stream moved.
      const fastApplied = projectEventsToReadModels(envelopes, fast);
      await waitingForALock(rows[0].pid);
      await slow.query('COMMIT');
      expect(await fastApplied).toEqual([]);
      await fast.query('COMMIT');
      expect(slowApplied).toHaveLength(envelopes.length);
    } finally {
      slow.release();
      fast.release();
    }
    expect(await snapshotReadModels(db.pool)).toEqual(live);
  });
});
