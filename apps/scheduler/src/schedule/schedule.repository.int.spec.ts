import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { PostgresEventStore } from '@cronicorn/event-store';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { markRunMissed, openRuns, releaseQueuedRun } from './schedule.repository';

describe('Scheduler repository: what the log says before the fold does', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore(db.pool);
  });
  afterAll(() => db.drop());

  /** A run handed out by the scheduler (or held back by `queue_one`) and not folded since. */
  async function dispatchedRun(
    endpointId: string,
    state: 'dispatched' | 'queued' = 'dispatched',
  ): Promise<string> {
    const runId = randomUUID();
    await db.pool.query(
      `INSERT INTO scheduler_runs (run_id, endpoint_id, tenant_id, trigger, scheduled_for, state, work_item, dispatched_at)
       VALUES ($1, $2, 'tenant-r', 'schedule', now(), $3, '{}'::jsonb,
               CASE WHEN $3 = 'dispatched' THEN now() - interval '2 minutes' END)`,
      [runId, endpointId, state],
    );
    return runId;
  }

  async function inLog(runId: string, types: Array<'RunStarted' | 'RunFinished'>): Promise<void> {
    await store.append(
      `run-${runId}`,
      types.map((type) => ({ type, data: { runId } })),
      { expectedVersion: 0, metadata: { tenantId: 'tenant-r', actor: 'dispatcher' } },
    );
  }

  const withClient = async <T>(work: (client: PoolClient) => Promise<T>) => {
    const client = await db.pool.connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
  };

  describe('When a dispatched run has finished in the log', () => {
    it('should not count as in flight for the overlap policy', async () => {
      const endpointId = randomUUID();
      const runId = await dispatchedRun(endpointId);
      expect(await withClient((c) => openRuns(c, endpointId))).toEqual({ inFlight: true, queued: false });

      await inLog(runId, ['RunStarted', 'RunFinished']);

      expect(await withClient((c) => openRuns(c, endpointId))).toEqual({ inFlight: false, queued: false });
    });
  });

  describe('When a run is queued behind one that has finished in the log', () => {
    it('should release the queued run, and not before', async () => {
      const endpointId = randomUUID();
      const inFlight = await dispatchedRun(endpointId);
      const queued = await dispatchedRun(endpointId, 'queued');
      expect(await withClient((c) => releaseQueuedRun(c, endpointId, new Date()))).toBeNull();

      await inLog(inFlight, ['RunStarted', 'RunFinished']);

      expect(await withClient((c) => releaseQueuedRun(c, endpointId, new Date()))).toBe(queued);
      expect(await withClient((c) => openRuns(c, endpointId))).toEqual({ inFlight: true, queued: false });
    });
  });

  describe('When a dispatched run has started in the log', () => {
    it('should not be marked missed', async () => {
      const started = await dispatchedRun(randomUUID());
      await inLog(started, ['RunStarted']);
      const unstarted = await dispatchedRun(randomUUID());

      expect(await withClient((c) => markRunMissed(c, started, new Date()))).toBe(false);
      expect(await withClient((c) => markRunMissed(c, unstarted, new Date()))).toBe(true);
    });
  });
});
