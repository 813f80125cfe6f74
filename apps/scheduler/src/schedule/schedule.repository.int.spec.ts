import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { PostgresEventStore } from '@cronicorn/event-store';
import { withTransaction } from '@cronicorn/platform';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import {
  lockEndpoint,
  lockResult,
  markRunMissed,
  openRuns,
  releaseQueuedRun,
  saveResult,
} from './schedule.repository';

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

describe("Scheduler repository: an endpoint's result", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  async function endpoint(): Promise<string> {
    const endpointId = randomUUID();
    await db.pool.query(
      `INSERT INTO scheduler_endpoints (endpoint_id, tenant_id, job_id, config, created_at, status)
       VALUES ($1, 'tenant-r', 'job-r', '{}'::jsonb, now(), 'active')`,
      [endpointId],
    );
    return endpointId;
  }

  const twoFailures = {
    lastFinished: {
      status: 'failed' as const,
      httpStatus: 503,
      retryAfterMs: 30_000,
      finishedAt: '2026-01-01T00:00:02.000Z',
      response: null,
    },
    streak: { count: 2, since: '2026-01-01T00:00:00.000Z', lastFailureAt: '2026-01-01T00:00:02.000Z' },
  };

  describe('When a locking read waits for the transaction that writes the result', () => {
    it('should read the result that transaction wrote', async () => {
      const endpointId = await endpoint();
      const writer = await db.pool.connect();
      const reader = await db.pool.connect();
      try {
        await writer.query('BEGIN');
        await lockEndpoint(writer, endpointId);
        const { version } = await lockResult(writer, endpointId);
        expect(await saveResult(writer, endpointId, twoFailures, version)).toBe(true);

        await reader.query('BEGIN');
        const waiting = lockEndpoint(reader, endpointId);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await writer.query('COMMIT');
        const row = await waiting;
        await reader.query('COMMIT');

        expect(row).toMatchObject(twoFailures);
      } finally {
        writer.release();
        reader.release();
      }
    });
  });

  describe('When two writes were made from the same version', () => {
    it('should take the first and refuse the second, with or without a row before', async () => {
      const endpointId = await endpoint();
      const save = (version: number) =>
        withTransaction(db.pool, (c) => saveResult(c, endpointId, twoFailures, version));

      expect(await save(0)).toBe(true);
      expect(await save(0)).toBe(false);
      expect(await save(1)).toBe(true);
      expect(await save(1)).toBe(false);
      const { version, ...result } = await withTransaction(db.pool, (c) => lockResult(c, endpointId));
      expect({ version, result }).toEqual({ version: 2, result: twoFailures });
    });
  });
});
