import type { Pool } from 'pg';
import { EventEnvelope, streamIds } from '@cronicorn/events';
import { LOG_START, PostgresEventStore } from '@cronicorn/event-store';
import { LogTail, MessagingLogger, silentLogger } from '@cronicorn/messaging';
import { createPool } from '@cronicorn/platform';
import { getJob, projectLogPage, readModelProgress, rebuildReadModels } from '@cronicorn/read-models';
import { createTestDatabase, TcpProxy, TestDatabase } from '@cronicorn/testing';
import {
  appendRichHistory,
  at,
  hintProposed,
  History,
  newId,
  snapshotReadModels,
} from '../../../libs/read-models/test/fixtures';
import { ProjectorRunner } from './projector.runner';

jest.setTimeout(90_000);

async function waitFor(
  condition: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function capturingLogger(lines: string[]): MessagingLogger {
  const push = (_fields: object, message: string) => void lines.push(message);
  return { debug: () => undefined, info: push, warn: push, error: push };
}

describe('Projector', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let history: History;
  const runners: ProjectorRunner[] = [];

  beforeEach(async () => {
    db = await createTestDatabase({ max: 40 });
    store = new PostgresEventStore(db.pool);
    history = new History(db.pool);
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
    await db.drop();
  });

  function startRunner(logs: string[] = [], applied: EventEnvelope[] = [], pool: Pool = db.pool) {
    const runner = new ProjectorRunner({
      pool,
      store,
      standbyRetryMs: 100,
      lockCheckMs: 100,
      lockCheckTimeoutMs: 1_000,
      pollIntervalMs: 200,
      logger: capturingLogger(logs),
      metrics: { onApplied: (envelope) => void applied.push(envelope) },
    });
    runners.push(runner);
    runner.start();
    return runner;
  }

  /** The projector's checkpoint is at or past every event in the log. */
  async function caughtUp(): Promise<boolean> {
    const { rows } = await db.pool.query<{ behind: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM events e
          WHERE NOT EXISTS (
            SELECT 1 FROM consumer_checkpoints c
             WHERE c.consumer = 'projector'
               AND (e.transaction_id, e.position) <= (c.transaction_id::text::xid8, c.position))) AS behind`,
    );
    return !rows[0].behind;
  }

  async function appendJob(tenantId: string): Promise<{ jobId: string; position: string }> {
    const jobId = newId('job');
    const [envelope] = await history.append(tenantId, streamIds.job(jobId), {
      type: 'JobCreated',
      data: { jobId, name: 'after', description: null, createdAt: at(200) },
    });
    return { jobId, position: envelope.position };
  }

  describe('When the live projector tails the log', () => {
    it('should build read models that a full rebuild reproduces exactly, then carry on', async () => {
      const logs: string[] = [];
      const applied: EventEnvelope[] = [];
      const runner = startRunner(logs, applied);
      await waitFor(() => runner.isActive, 'the projector to become active');

      const envelopes = await appendRichHistory(history, { project: false });
      await waitFor(caughtUp, 'the projector to catch up with the log');
      expect(new Set(applied.map((envelope) => envelope.id))).toEqual(new Set(envelopes.map((e) => e.id)));
      const live = await snapshotReadModels(db.pool);
      expect(live.rm_endpoints.length).toBe(8);

      // The rebuild runs while the projector is active: it asks it to step down.
      const summary = await rebuildReadModels({ pool: db.pool, store, lockWaitMs: 10_000 });
      expect(summary.events).toBe(envelopes.length);
      expect(logs).toContain('a rebuild asked the projector to step down');
      expect(await snapshotReadModels(db.pool)).toEqual(live);

      await waitFor(() => runner.isActive, 'the projector to take over again after the rebuild');
      const tenantId = envelopes[0].tenantId;
      const after = await appendJob(tenantId);
      await waitFor(() => readModelProgress(db.pool, after.position), 'the new event to be projected');
      expect(await getJob(db.pool, tenantId, after.jobId)).toMatchObject({ name: 'after' });
    });
  });

  describe("When the log holds a stream's events in another order than their versions", () => {
    it('should apply them in version order', async () => {
      const tenant = history.tenant();
      const endpointId = await tenant.endpoint(await tenant.job());
      const streamId = streamIds.endpoint(endpointId);
      // A writer that took its transaction id early appends version 3 after version 2
      // committed: the log, in transaction id order, holds version 3 first.
      const early = await db.pool.connect();
      try {
        await early.query('BEGIN');
        await early.query('SELECT pg_current_xact_id()');
        await history.append(tenant.tenantId, streamId, {
          type: 'EndpointPaused',
          data: { endpointId, until: null, reason: 'held', by: 'user', pausedAt: at(5) },
        });
        await history.store.append(streamId, [hintProposed(endpointId, 'interval', 60_000, 600, 6)], {
          expectedVersion: 2,
          client: early,
          metadata: { tenantId: tenant.tenantId, actor: 'test' },
        });
        await early.query('COMMIT');
      } finally {
        early.release();
      }
      const page = await store.readAll(LOG_START);
      expect(page.events.filter((e) => e.streamId === streamId).map((e) => e.streamVersion)).toEqual([
        1, 3, 2,
      ]);

      startRunner();
      await waitFor(caughtUp, 'the projector to catch up with the log');
      const { rows } = await db.pool.query(
        'SELECT status, pause_reason FROM rm_endpoints WHERE endpoint_id = $1',
        [endpointId],
      );
      expect(rows).toEqual([{ status: 'paused', pause_reason: 'held' }]);
    });
  });

  describe('When a rebuild stops half-way', () => {
    it('should leave the rest of the log to the live projector, which completes the read models', async () => {
      const runner = startRunner();
      await waitFor(() => runner.isActive, 'the projector to become active');
      await appendRichHistory(history, { project: false });
      await waitFor(caughtUp, 'the projector to catch up with the log');
      const live = await snapshotReadModels(db.pool);

      // A crash after a few batches: the lock goes with the session, as when the process dies.
      let batches = 0;
      const crashing = rebuildReadModels({
        pool: db.pool,
        store,
        batchSize: 20,
        lockWaitMs: 10_000,
        onProgress: () => {
          batches += 1;
          if (batches === 3) throw new Error('rebuild killed');
        },
      });
      await expect(crashing).rejects.toThrow('rebuild killed');
      expect((await snapshotReadModels(db.pool)).rm_runs.length).toBeLessThan(live.rm_runs.length);

      await waitFor(caughtUp, 'the projector to apply what the rebuild did not');
      expect(await snapshotReadModels(db.pool)).toEqual(live);
    });
  });

  describe('When a rebuild starts while a deposed projector is still in a step', () => {
    it('should roll that step back, so the rebuild cut short leaves the live projector the whole log', async () => {
      let gate: (() => void) | null = null;
      let inStep: (() => void) | null = null;
      const stale = new LogTail({
        pool: db.pool,
        store,
        name: 'projector',
        handle: async (envelopes, client) => {
          if (gate === null && inStep) {
            const held = new Promise<void>((resolve) => (gate = resolve));
            inStep();
            await held;
          }
          await projectLogPage(envelopes, client, store);
        },
        durableCommit: false,
        logger: silentLogger,
      });
      await appendRichHistory(history, { project: false });
      while ((await stale.step()).more);
      const tenantId = newId('tenant');
      await appendJob(tenantId);
      const last = await appendJob(tenantId);

      // Its lock session died with the step half done: the rebuild gets the lock at once.
      const stepping = new Promise<void>((resolve) => (inStep = resolve)).then(() => undefined);
      const step = stale.step();
      await stepping;
      await expect(
        rebuildReadModels({
          pool: db.pool,
          store,
          batchSize: 20,
          onProgress: () => {
            throw new Error('rebuild killed');
          },
        }),
      ).rejects.toThrow('rebuild killed');
      gate!();
      expect(await step).toEqual({ handled: 0, more: false });

      startRunner();
      await waitFor(caughtUp, 'the projector to catch up with the log');
      await waitFor(() => readModelProgress(db.pool, last.position), 'the projector to pass the last job');
      const live = await snapshotReadModels(db.pool);
      await rebuildReadModels({ pool: db.pool, store, lockWaitMs: 10_000 });
      expect(await snapshotReadModels(db.pool)).toEqual(live);
    });
  });

  describe('When two projectors run', () => {
    it('should let one write while the other stands by, and hand over when the first stops', async () => {
      const logsA: string[] = [];
      const logsB: string[] = [];
      const appliedB: EventEnvelope[] = [];
      const a = startRunner(logsA);
      await waitFor(() => a.isActive, 'projector A to become active');
      const b = startRunner(logsB, appliedB);
      await waitFor(
        () => logsB.includes('another projector is active; standing by'),
        'projector B to stand by',
      );
      expect(b.isActive).toBe(false);

      const tenantId = newId('tenant');
      const first = await appendJob(tenantId);
      await waitFor(() => readModelProgress(db.pool, first.position), 'projector A to project the first job');
      expect(appliedB).toEqual([]);

      await a.stop();
      expect(a.isActive).toBe(false);
      await waitFor(() => b.isActive, 'projector B to take over');

      const second = await appendJob(tenantId);
      await waitFor(
        () => readModelProgress(db.pool, second.position),
        'projector B to project the second job',
      );
      expect(appliedB.map((envelope) => envelope.position)).toContain(second.position);
      expect(await getJob(db.pool, tenantId, second.jobId)).not.toBeNull();
    });
  });

  describe('When the active projector loses Postgres without its connections closing', () => {
    it('should give up the lock so that a standby takes over', async () => {
      const proxy = await TcpProxy.start(5432);
      const poolA = createPool(proxy.wrapUrl(db.url), { max: 10 });
      try {
        const logsB: string[] = [];
        const a = startRunner([], [], poolA);
        await waitFor(() => a.isActive, 'projector A to become active');
        const b = startRunner(logsB);
        await waitFor(
          () => logsB.includes('another projector is active; standing by'),
          'projector B to stand by',
        );

        proxy.freeze();
        await waitFor(() => b.isActive, 'projector B to take over', 15_000);
        expect(a.isActive).toBe(false);
        const second = await appendJob(newId('tenant'));
        await waitFor(() => readModelProgress(db.pool, second.position), 'projector B to project');
      } finally {
        // Cut the frozen connections so that A's stuck queries fail and A can stop.
        await proxy.close();
        await Promise.all(runners.splice(0).map((runner) => runner.stop()));
        await poolA.end();
      }
    });
  });
});
