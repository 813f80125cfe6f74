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
  saveEndpoints,
  saveResult,
} from './schedule.repository';
import { EndpointRow } from './schedule.model';

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
      // Marked finished on the way, so the log is not asked again at the next fire.
      const { rows } = await db.pool.query<{ state: string }>(
        'SELECT state FROM scheduler_runs WHERE run_id = $1',
        [runId],
      );
      expect(rows[0].state).toBe('finished');
    });

    it('should leave a run the fold holds to the fold', async () => {
      const endpointId = randomUUID();
      const runId = await dispatchedRun(endpointId);
      await inLog(runId, ['RunStarted', 'RunFinished']);
      const fold = await db.pool.connect();
      try {
        await fold.query('BEGIN');
        await fold.query('SELECT 1 FROM scheduler_runs WHERE run_id = $1 FOR UPDATE', [runId]);

        expect(await withClient((c) => openRuns(c, endpointId))).toEqual({ inFlight: false, queued: false });
      } finally {
        await fold.query('ROLLBACK');
        fold.release();
      }
      const { rows } = await db.pool.query<{ state: string }>(
        'SELECT state FROM scheduler_runs WHERE run_id = $1',
        [runId],
      );
      expect(rows[0].state).toBe('dispatched');
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

  describe('When several rows are saved in one statement', () => {
    it('should write each row its own values and release only the leases asked for', async () => {
      const [a, b] = [await endpoint(), await endpoint()];
      await db.pool.query(
        `UPDATE scheduler_endpoints SET lease_owner = 'me', lease_until = now() + interval '1 minute'
          WHERE endpoint_id = ANY($1)`,
        [[a, b]],
      );
      const planned: Partial<EndpointRow> = {
        config: { note: 'say "hi" \\ {braces}, ünicode' } as unknown as EndpointRow['config'],
        hints: [],
        lastRun: { runId: randomUUID(), scheduledFor: '2026-01-01T00:00:00.000Z', startedAt: null },
        scheduledRuns: 7,
        plan: {
          runId: randomUUID(),
          runAt: '2026-01-01T00:00:01.000Z',
          slot: '2026-01-01T00:00:01.000Z',
          reason: 'interval',
          plannedAt: '2026-01-01T00:00:00.500Z',
        } as EndpointRow['plan'],
      };
      const paused: Partial<EndpointRow> = {
        status: 'paused',
        pausedUntil: '2026-01-02T00:00:00.000Z',
        plan: null,
      };

      await withTransaction(db.pool, async (client) => {
        const rowA = (await lockEndpoint(client, a))!;
        const rowB = (await lockEndpoint(client, b))!;
        await saveEndpoints(client, [
          { row: { ...rowA, ...planned }, releaseLease: true },
          { row: { ...rowB, ...paused }, releaseLease: false },
        ]);
      });

      const [savedA, savedB] = await withTransaction(db.pool, async (client) => [
        (await lockEndpoint(client, a))!,
        (await lockEndpoint(client, b))!,
      ]);
      expect(savedA).toMatchObject(planned);
      expect(savedB).toMatchObject(paused);
      const { rows } = await db.pool.query<{ endpoint_id: string; lease_owner: string | null }>(
        'SELECT endpoint_id, lease_owner FROM scheduler_endpoints WHERE endpoint_id = ANY($1)',
        [[a, b]],
      );
      expect(Object.fromEntries(rows.map((r) => [r.endpoint_id, r.lease_owner]))).toEqual({
        [a]: null,
        [b]: 'me',
      });
    });
  });

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
