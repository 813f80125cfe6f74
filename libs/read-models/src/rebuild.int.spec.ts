import { EventEnvelope, streamIds } from '@cronicorn/events';
import { LOG_START } from '@cronicorn/event-store';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import type { PoolClient } from 'pg';
import {
  appendRichHistory,
  at,
  History,
  nextRunPlanned,
  runEvents,
  runMissed,
  runSkipped,
  snapshotReadModels,
} from '../test/fixtures';
import { readModelProgress } from './progress';
import {
  PROJECTOR_CONTROL_CHANNEL,
  ProjectorLockBusyError,
  STEP_DOWN,
  tryProjectorLock,
} from './projector-lock';
import { rebuildReadModels, RebuildProgress } from './rebuild';

jest.setTimeout(60_000);

describe('Read-model rebuild', () => {
  let db: TestDatabase;
  let history: History;

  beforeEach(async () => {
    db = await createTestDatabase();
    history = new History(db.pool);
  });
  afterEach(() => db.drop());

  describe('When the log is replayed', () => {
    it('should produce exactly what applying the events as they arrived produced', async () => {
      const envelopes = await appendRichHistory(history, { project: true });
      const live = await snapshotReadModels(db.pool);
      expect(live.rm_runs.length).toBeGreaterThan(0);

      const progress: RebuildProgress[] = [];
      const summary = await rebuildReadModels({
        pool: db.pool,
        store: history.store,
        batchSize: 50,
        onProgress: (p) => progress.push(p),
      });

      expect(await snapshotReadModels(db.pool)).toEqual(live);
      expect(summary.events).toBe(envelopes.length);
      expect(summary.rows.rm_runs).toBe(live.rm_runs.length);
      expect(progress[progress.length - 1]).toMatchObject({
        done: envelopes.length,
        total: envelopes.length,
      });
      expect(progress.length).toBeGreaterThan(1);
    });

    it('should leave the projector consumer right after the rebuilt state', async () => {
      const envelopes = await appendRichHistory(history, { project: false });
      const summary = await rebuildReadModels({ pool: db.pool, store: history.store });

      for (const envelope of envelopes)
        expect(await readModelProgress(db.pool, envelope.position)).toBe(true);
      const { rows } = await db.pool.query(
        `SELECT position::text AS position FROM consumer_checkpoints WHERE consumer = 'projector'`,
      );
      expect(rows).toEqual([{ position: summary.checkpoint.position }]);
    });

    it("should apply a stream's events that the log holds in another order than their versions", async () => {
      // A writer that took its transaction id early (the scheduler locks rows, then appends under
      // them) can append version 2 after version 1 committed: the log, in commit order by
      // transaction id, then holds version 2 first.
      const tenant = history.tenant();
      const endpointId = await tenant.endpoint(await tenant.job());
      const streamId = streamIds.schedule(endpointId);
      const missed = runMissed(endpointId, 70);
      const skipped = runSkipped(endpointId, 72);
      const early = await db.pool.connect();
      let second: EventEnvelope[];
      try {
        await early.query('BEGIN');
        await early.query('SELECT pg_current_xact_id()');
        const [first] = await history.append(tenant.tenantId, streamId, missed);
        ({ envelopes: second } = await history.store.append(streamId, [skipped], {
          expectedVersion: 1,
          client: early,
          metadata: { tenantId: tenant.tenantId, actor: 'test' },
        }));
        await early.query('COMMIT');
        // The live projector reads the missing version from the store first.
        await history.project([first, ...second]);
      } finally {
        early.release();
      }
      const page = await history.store.readAll(LOG_START);
      expect(page.events.filter((e) => e.streamId === streamId).map((e) => e.streamVersion)).toEqual([2, 1]);
      const live = await snapshotReadModels(db.pool);

      await rebuildReadModels({ pool: db.pool, store: history.store, batchSize: 50 });
      expect(await snapshotReadModels(db.pool)).toEqual(live);
    });

    it('should give what a live projector gave that got a plan only after its run had started', async () => {
      // NATS lost a one-time run's plan, the last event of its stream: the sweep applies it late.
      const tenant = history.tenant();
      const jobId = await tenant.job();
      const endpointId = await tenant.endpoint(jobId, { schedule: { kind: 'once', runAt: at(5) } });
      const plan = nextRunPlanned(endpointId, jobId, 5, 1);
      const run = runEvents(plan.data.runId, endpointId, jobId, { status: 'success', startedAtMin: 5 });
      const [planned] = await history.append(tenant.tenantId, streamIds.schedule(endpointId), plan);
      const runEnvelopes = await history.append(tenant.tenantId, streamIds.run(plan.data.runId), ...run);
      await history.project([...runEnvelopes, planned]);
      const live = await snapshotReadModels(db.pool);

      await rebuildReadModels({ pool: db.pool, store: history.store });
      expect(await snapshotReadModels(db.pool)).toEqual(live);
    });

    it('should start from empty tables, dropping whatever the read models held', async () => {
      await appendRichHistory(history, { project: true });
      const before = await snapshotReadModels(db.pool);
      await db.pool.query(`UPDATE rm_jobs SET name = 'corrupted'`);
      await db.pool.query(`INSERT INTO rm_stream_versions (stream_id, version) VALUES ('job-ghost', 7)`);

      await rebuildReadModels({ pool: db.pool, store: history.store });
      expect(await snapshotReadModels(db.pool)).toEqual(before);
    });
  });

  describe('When an event cannot be applied', () => {
    it('should fail naming the positions of the batch that failed and what to do next', async () => {
      await appendRichHistory(history, { project: false });
      const { rows } = await db.pool.query<{ position: string }>(
        `UPDATE events SET data = '{}' WHERE position = (SELECT min(position) FROM events WHERE type = 'JobCreated')
         RETURNING position::text`,
      );

      const rebuild = rebuildReadModels({ pool: db.pool, store: history.store, batchSize: 1 });

      await expect(rebuild).rejects.toThrow(
        new RegExp(`at positions ${rows[0].position}\\.\\.${rows[0].position} .*run the rebuild again`),
      );
    });
  });

  describe('When a projector holds the lock', () => {
    let holder: PoolClient;
    beforeEach(async () => {
      holder = await db.pool.connect();
      expect(await tryProjectorLock(holder)).toBe(true);
    });
    afterEach(() => holder.release(true));

    it('should ask it to step down and rebuild once it lets go', async () => {
      await appendRichHistory(history, { project: false });
      holder.on('notification', (message) => {
        if (message.channel === PROJECTOR_CONTROL_CHANNEL && message.payload === STEP_DOWN) {
          void holder.query('SELECT pg_advisory_unlock_all()');
        }
      });
      await holder.query(`LISTEN ${PROJECTOR_CONTROL_CHANNEL}`);
      const logs: string[] = [];

      const summary = await rebuildReadModels({
        pool: db.pool,
        store: history.store,
        onLog: (m) => logs.push(m),
      });
      expect(summary.rows.rm_jobs).toBe(4);
      expect(logs[0]).toMatch(/asking it to step down/);
    });

    it('should refuse with a clear error when it does not let go in time', async () => {
      await expect(
        rebuildReadModels({ pool: db.pool, store: history.store, lockWaitMs: 300 }),
      ).rejects.toThrow(ProjectorLockBusyError);
      const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM consumer_checkpoints');
      expect(rows[0].n).toBe(0);
    });
  });
});
