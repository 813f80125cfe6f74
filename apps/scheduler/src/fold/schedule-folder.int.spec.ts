import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { streamIds } from '@cronicorn/events';
import { withTransaction } from '@cronicorn/platform';
import { handFolder, SchedulerWorld, waitFor } from '../../test/harness';
import { lockResult } from '../schedule/schedule.repository';
import { ScheduleFolder } from './schedule-folder';

jest.setTimeout(60_000);

// The folder is driven by hand here, on its own connection: the scheduler's consumers would
// not see these events while the test holds a row lock (the log is read in commit order, and
// an open transaction holds it back).
describe('ScheduleFolder (a finish while a fire holds the endpoint)', () => {
  let world: SchedulerWorld;
  let folder: ScheduleFolder;

  beforeAll(async () => {
    world = await SchedulerWorld.create();
    folder = handFolder(world);
  });
  afterAll(() => world.close());

  const result = async (endpointId: string) =>
    (
      await world.db.pool.query<{ finished_at: string | null; consecutive_failures: number }>(
        `SELECT last_finished->>'finishedAt' AS finished_at, consecutive_failures
           FROM scheduler_endpoint_results WHERE endpoint_id = $1`,
        [endpointId],
      )
    ).rows[0];

  /** A new endpoint every 1 s with one run handed out (never started), the scheduler stopped. */
  async function endpointWithARunHandedOut() {
    const scheduler = world.startScheduler();
    const endpointId = await world.createEndpoint(await world.createJob(), {
      schedule: { kind: 'interval', intervalMs: 1_000 },
    });
    world.neverStart.add(endpointId);
    await waitFor(() => world.receivedFor(endpointId).length >= 1, 'a run handed out');
    await world.stopScheduler(scheduler);
    await world.pauseRelay();
    return { endpointId, first: world.receivedFor(endpointId)[0].item };
  }

  /** The events of these runs' streams, run after run. */
  async function runEvents(runIds: readonly string[]) {
    return (await Promise.all(runIds.map((runId) => world.store.readStream(streamIds.run(runId))))).flat();
  }

  /** Runs `fold` in a transaction that waits at most 1 s for a lock, while a "fire" holds the endpoints' rows. */
  async function whileAFireHoldsTheRow(
    endpointIds: string | readonly string[],
    fold: (client: PoolClient) => Promise<void>,
  ) {
    const fire = await world.db.pool.connect();
    try {
      await fire.query('BEGIN');
      await fire.query('SELECT 1 FROM scheduler_endpoints WHERE endpoint_id = ANY($1::text[]) FOR UPDATE', [
        ([] as string[]).concat(endpointIds),
      ]);
      await withTransaction(world.db.pool, async (client) => {
        await client.query("SET LOCAL lock_timeout = '1s'");
        await fold(client);
      });
    } finally {
      await fire.query('ROLLBACK');
      fire.release();
    }
  }

  /** Folds the run's `RunFinished` in a transaction that waits at most 1 s for a lock. */
  async function foldFinish(runId: string): Promise<void> {
    const [finished] = (await world.store.readStream(streamIds.run(runId))).filter(
      (e) => e.type === 'RunFinished',
    );
    await withTransaction(world.db.pool, async (client) => {
      await client.query("SET LOCAL lock_timeout = '1s'");
      await folder.handleBatch([finished], client);
    });
  }

  describe("When the endpoint's row is locked", () => {
    let endpointId: string;
    let fire: PoolClient;
    let succeedingRunId: string;
    let failingRunId: string;

    beforeAll(async () => {
      const scheduler = world.startScheduler();
      endpointId = await world.createEndpoint(await world.createJob(), {
        schedule: { kind: 'interval', intervalMs: 1_000 },
      });
      await waitFor(async () => (await result(endpointId))?.finished_at != null, 'a first success folded');
      world.neverStart.add(endpointId);
      const from = world.receivedFor(endpointId).length;
      await waitFor(() => world.receivedFor(endpointId).length > from, 'a run handed out, not started');
      await world.stopScheduler(scheduler);

      const succeeding = world.receivedFor(endpointId)[from].item;
      succeedingRunId = succeeding.runId;
      await world.run(succeeding);
      world.failing.add(endpointId);
      failingRunId = randomUUID();
      await world.run({ ...succeeding, runId: failingRunId });

      fire = await world.db.pool.connect();
      await fire.query('BEGIN');
      await fire.query('SELECT 1 FROM scheduler_endpoints WHERE endpoint_id = $1 FOR UPDATE', [endpointId]);
      await foldFinish(succeeding.runId);
    });
    afterAll(async () => {
      await fire.query('ROLLBACK');
      fire.release();
    });

    it('should fold a success after a success without waiting for the lock', async () => {
      const { rows } = await world.db.pool.query<{ finished_at: string }>(
        `SELECT data->>'finishedAt' AS finished_at FROM events WHERE stream_id = $1 AND type = 'RunFinished'`,
        [streamIds.run(succeedingRunId)],
      );
      expect((await result(endpointId))?.finished_at).toBe(rows[0].finished_at);
    });

    it('should wait for the lock to fold a failure, then count it', async () => {
      await expect(foldFinish(failingRunId)).rejects.toMatchObject({ code: '55P03' });
      expect((await result(endpointId))?.consecutive_failures).toBe(0);

      await fire.query('ROLLBACK');
      await fire.query('BEGIN');
      await foldFinish(failingRunId);
      expect((await result(endpointId))?.consecutive_failures).toBe(1);
    });
  });

  describe('When one batch holds several runs of an endpoint', () => {
    it('should mark each run and count their failures in order, as one event at a time would', async () => {
      const { endpointId, first } = await endpointWithARunHandedOut();
      world.failing.add(endpointId);
      const second = { ...first, runId: randomUUID() };
      await world.run(first);
      await world.run(second);
      const events = await runEvents([first.runId, second.runId]);
      expect(events.map((e) => e.type)).toEqual(['RunStarted', 'RunFinished', 'RunStarted', 'RunFinished']);

      await withTransaction(world.db.pool, (client) => folder.handleBatch(events, client));

      expect((await result(endpointId))?.consecutive_failures).toBe(2);
      const { rows } = await world.db.pool.query<{ state: string; started_at: Date; finished_at: Date }>(
        'SELECT state, started_at, finished_at FROM scheduler_runs WHERE run_id = $1',
        [first.runId],
      );
      expect(rows[0]).toMatchObject({
        state: 'finished',
        finished_at: new Date((events[1].data as { finishedAt: string }).finishedAt),
      });
    });
  });

  describe('When a run starts', () => {
    const runState = async (runId: string) =>
      (
        await world.db.pool.query<{ state: string }>('SELECT state FROM scheduler_runs WHERE run_id = $1', [
          runId,
        ])
      ).rows[0].state;

    it('should leave a run that started in time as handed out (in flight), with no write', async () => {
      const { first } = await endpointWithARunHandedOut();
      await world.run(first);
      const [started] = await runEvents([first.runId]);

      await withTransaction(world.db.pool, (client) => folder.handleBatch([started], client));

      expect(await runState(first.runId)).toBe('dispatched');
    });

    it('should count a run marked missed that starts after all as in flight again', async () => {
      const { first } = await endpointWithARunHandedOut();
      await world.db.pool.query(`UPDATE scheduler_runs SET state = 'missed' WHERE run_id = $1`, [
        first.runId,
      ]);
      await world.run(first);
      const [started] = await runEvents([first.runId]);

      await withTransaction(world.db.pool, (client) => folder.handleBatch([started], client));

      // Open again: the overlap check counts it in flight until its finish is in the log.
      expect(await runState(first.runId)).toBe('started');
    });
  });

  describe('When one batch holds a success, a failure and a success of an endpoint', () => {
    it('should end with the streak the last success leaves, as one event at a time would', async () => {
      const { endpointId, first } = await endpointWithARunHandedOut();
      const runs = [first, { ...first, runId: randomUUID() }, { ...first, runId: randomUUID() }];
      await world.run(runs[0]);
      world.failing.add(endpointId);
      await world.run(runs[1]);
      world.failing.delete(endpointId);
      await world.run(runs[2]);
      const events = await runEvents(runs.map((run) => run.runId));

      await withTransaction(world.db.pool, (client) => folder.handleBatch(events, client));

      expect(await result(endpointId)).toEqual({
        finished_at: (events[5].data as { finishedAt: string }).finishedAt,
        consecutive_failures: 0,
      });
    });
  });

  describe('When one batch holds two successes of an endpoint whose row a fire holds', () => {
    it('should fold both without waiting for the lock', async () => {
      const { endpointId, first } = await endpointWithARunHandedOut();
      const second = { ...first, runId: randomUUID() };
      await world.run(first);
      await world.run(second);
      const events = await runEvents([first.runId, second.runId]);

      await whileAFireHoldsTheRow(endpointId, (client) => folder.handleBatch(events, client));

      expect((await result(endpointId))?.finished_at).toBe(
        (events[3].data as { finishedAt: string }).finishedAt,
      );
    });
  });

  describe('When one batch holds the usual finishes of several endpoints', () => {
    it("should fold each endpoint's finishes in order and write its result once, without the locks", async () => {
      const endpoints = [];
      for (let i = 0; i < 3; i++) endpoints.push(await endpointWithARunHandedOut());
      // A first finish each, folded alone, gives each endpoint its result row.
      const firsts = await runEvents(
        await Promise.all(endpoints.map(async ({ first }) => (await world.run(first), first.runId))),
      );
      await withTransaction(world.db.pool, (client) => folder.handleBatch(firsts, client));
      const runs = endpoints.map(({ first }) => [
        { ...first, runId: randomUUID() },
        { ...first, runId: randomUUID() },
      ]);
      for (const run of runs.flat()) await world.run(run);
      const events = await runEvents(runs.flat().map((run) => run.runId));
      const ids = endpoints.map(({ endpointId }) => endpointId);
      const results = async () =>
        (
          await world.db.pool.query<{
            endpoint_id: string;
            finished_at: string | null;
            consecutive_failures: number;
            streak_since: Date | null;
            version: number;
          }>(
            `SELECT endpoint_id, last_finished->>'finishedAt' AS finished_at, consecutive_failures, streak_since, version
               FROM scheduler_endpoint_results WHERE endpoint_id = ANY($1::text[]) ORDER BY endpoint_id`,
            [ids],
          )
        ).rows;
      const before = await results();
      expect(before.map((row) => row.endpoint_id)).toEqual([...ids].sort());

      await whileAFireHoldsTheRow(ids, (client) => folder.handleBatch(events, client));

      const lastFinish = (endpointId: string) =>
        events
          .filter(
            (e) => e.type === 'RunFinished' && (e.data as { endpointId: string }).endpointId === endpointId,
          )
          .map((e) => (e.data as { finishedAt: string }).finishedAt)
          .at(-1);
      expect(await results()).toEqual(
        before.map((row) => ({
          endpoint_id: row.endpoint_id,
          finished_at: lastFinish(row.endpoint_id),
          consecutive_failures: 0,
          // A success starts the (empty) streak anew.
          streak_since: new Date(lastFinish(row.endpoint_id)!),
          version: row.version + 1,
        })),
      );
    });
  });

  describe('When a batch holds a finish that needs the lock after one that does not', () => {
    it('should take the endpoint row before the result row, so a resume folding meanwhile does not deadlock', async () => {
      const { endpointId, first } = await endpointWithARunHandedOut();
      const second = { ...first, runId: randomUUID() };
      await world.run(first);
      await world.run(second);
      // A success with a Retry-After on record leaves the next finish to the lock.
      const events = (await runEvents([first.runId, second.runId])).map((e, i) =>
        i === 1 ? { ...e, data: { ...e.data, retryAfterMs: 30_000 } } : e,
      );
      const resume = await world.db.pool.connect();
      try {
        await resume.query('BEGIN');
        await resume.query('SELECT 1 FROM scheduler_endpoints WHERE endpoint_id = $1 FOR UPDATE', [
          endpointId,
        ]);
        let foldPid = 0;
        const fold = withTransaction(world.db.pool, async (client) => {
          foldPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
          await folder.handleBatch(events, client);
        });
        await waitFor(async () => {
          const { rows } = await world.db.pool.query(
            `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`,
            [foldPid],
          );
          return rows.length > 0;
        }, 'the fold waiting for a lock');
        // What a resume's fold does next: its result row, under the endpoint row it holds.
        await resume.query("SET LOCAL lock_timeout = '5s'");
        await lockResult(resume, endpointId);
        await resume.query('COMMIT');
        await fold;
      } finally {
        await resume.query('ROLLBACK').catch(() => undefined);
        resume.release();
      }
      expect((await result(endpointId))?.finished_at).toBe(
        (events[3].data as { finishedAt: string }).finishedAt,
      );
    });
  });

  describe('When a RunStarted arrives after a newer run was handed out', () => {
    it('should fold it without the row lock and change nothing', async () => {
      const scheduler = world.startScheduler();
      const endpointId = await world.createEndpoint(await world.createJob(), {
        schedule: { kind: 'interval', intervalMs: 1_000 },
      });
      world.neverStart.add(endpointId);
      await waitFor(() => world.receivedFor(endpointId).length >= 1, 'a run handed out');
      const older = world.receivedFor(endpointId)[0].item;
      // The fold does not see it; the due loop finds the finish in the log and hands out the next.
      await world.pauseRelay();
      await world.run(older);
      await waitFor(() => world.receivedFor(endpointId).length >= 2, 'the next run handed out');
      await world.stopScheduler(scheduler);
      const newer = world.receivedFor(endpointId)[1].item;
      const row = async () =>
        (
          await world.db.pool.query<{ last_run_id: string; next_run_id: string | null }>(
            'SELECT last_run_id, next_run_id FROM scheduler_endpoints WHERE endpoint_id = $1',
            [endpointId],
          )
        ).rows[0];
      const before = { row: await row(), events: (await world.scheduleEvents(endpointId)).length };
      expect(before.row.last_run_id).toBe(newer.runId);

      const [started] = (await world.store.readStream(streamIds.run(older.runId))).filter(
        (e) => e.type === 'RunStarted',
      );
      await whileAFireHoldsTheRow(endpointId, (client) => folder.handleBatch([started], client));

      expect(await row()).toEqual(before.row);
      expect(await world.scheduleEvents(endpointId)).toHaveLength(before.events);
      const { rows } = await world.db.pool.query<{ state: string }>(
        'SELECT state FROM scheduler_runs WHERE run_id = $1',
        [older.runId],
      );
      expect(rows[0].state).not.toBe('dispatched');
    });
  });
});
