import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient, QueryConfig } from 'pg';
import { NextRunPlanned, RunFinished, RunMissed, RunSkipped, RunStarted, streamIds } from '@cronicorn/events';
import { withTransaction } from '@cronicorn/platform';
import { delay, handFolder, Received, SchedulerWorld, waitFor } from '../test/harness';
import { Scheduler, SCHEDULER_FOLDS } from './scheduler';

jest.setTimeout(60_000);

const SECOND = 1_000;

/** Every NextRunPlanned of the endpoint, by run id. */
async function plansById(
  world: SchedulerWorld,
  endpointId: string,
): Promise<Map<string, NextRunPlanned['data']>> {
  const events = await world.scheduleEvents(endpointId);
  return new Map(
    events
      .filter((e) => e.type === 'NextRunPlanned')
      .map((e) => [(e.data as NextRunPlanned['data']).runId, e.data as NextRunPlanned['data']]),
  );
}

/** The scheduled runs handed out, in order, each once. */
const scheduled = (received: Received[]) => received.filter((r) => r.item.trigger === 'schedule');

/** The ids of the endpoint's runs in `state` in the scheduler's own table. */
async function runIdsIn(world: SchedulerWorld, endpointId: string, state: string): Promise<string[]> {
  const { rows } = await world.db.pool.query<{ run_id: string }>(
    'SELECT run_id FROM scheduler_runs WHERE endpoint_id = $1 AND state = $2',
    [endpointId, state],
  );
  return rows.map((r) => r.run_id);
}

describe('Scheduler (one replica)', () => {
  let world: SchedulerWorld;
  let jobId: string;
  /** Runs every second the whole time: "as long as this ran twice more, nothing else should have". */
  let witness: string;

  beforeAll(async () => {
    world = await SchedulerWorld.create();
    world.startScheduler({ missedAfterMs: 1_500, republishAfterMs: 400 });
    jobId = await world.createJob();
    witness = await world.createEndpoint(jobId, { schedule: { kind: 'interval', intervalMs: SECOND } });
  });
  afterAll(() => world.close());

  const witnessRuns = () => world.receivedFor(witness).length;
  /** Waits until the witness endpoint was dispatched `n` more times. */
  async function whileWitnessRuns(n: number): Promise<void> {
    const target = witnessRuns() + n;
    await waitFor(() => witnessRuns() >= target, `${n} more witness runs`);
  }

  describe('When an endpoint runs every second', () => {
    it('should hand out a run every second, never before its planned time, each planned first', async () => {
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'interval', intervalMs: SECOND },
      });
      await waitFor(() => world.receivedFor(endpointId).length >= 6, 'six dispatches');

      const runs = scheduled(world.receivedFor(endpointId));
      const plans = await plansById(world, endpointId);
      for (const run of runs) {
        expect(run.msgId).toBe(run.item.runId);
        expect(run.receivedAt).toBeGreaterThanOrEqual(Date.parse(run.item.scheduledFor));
        expect(plans.get(run.item.runId)?.runAt).toBe(run.item.scheduledFor);
      }
      const times = runs.map((r) => Date.parse(r.item.scheduledFor));
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(SECOND);
      expect(new Set(runs.map((r) => r.item.runId)).size).toBe(runs.length);
    });
  });

  describe('When an endpoint is paused and resumed', () => {
    it('should stop handing out its runs while paused and start again on resume', async () => {
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'interval', intervalMs: SECOND },
      });
      await waitFor(() => world.receivedFor(endpointId).length >= 2, 'two dispatches');

      await world.endpointCommand(endpointId, {
        type: 'PauseEndpoint',
        data: { endpointId, until: null, reason: 'maintenance' },
      });
      await waitFor(async () => (await world.row(endpointId))?.status === 'paused', 'the pause folded');
      expect((await world.row(endpointId))?.next_run_at).toBeNull();
      const before = world.receivedFor(endpointId).length;
      await whileWitnessRuns(3);
      // At most the run handed out just before the pause was folded may still arrive.
      expect(world.receivedFor(endpointId).length).toBeLessThanOrEqual(before + 1);

      await world.endpointCommand(endpointId, { type: 'ResumeEndpoint', data: { endpointId } });
      const resumedFrom = world.receivedFor(endpointId).length;
      await waitFor(() => world.receivedFor(endpointId).length >= resumedFrom + 2, 'dispatches after resume');
    });
  });

  describe('When an endpoint runs once', () => {
    it('should hand the run out once, at its time', async () => {
      const runAt = new Date(Date.now() + 1_500).toISOString();
      const endpointId = await world.createEndpoint(jobId, { schedule: { kind: 'once', runAt } });
      await waitFor(() => world.receivedFor(endpointId).length >= 1, 'the one-time run');
      await whileWitnessRuns(3);

      const runs = world.receivedFor(endpointId);
      expect(runs).toHaveLength(1);
      expect(runs[0].item.scheduledFor).toBe(runAt);
      expect(runs[0].receivedAt).toBeGreaterThanOrEqual(Date.parse(runAt));
      expect((await world.row(endpointId))?.next_run_at).toBeNull();
    });
  });

  describe('When a hint lengthens the interval', () => {
    it('should postpone the run already planned', async () => {
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'interval', intervalMs: 2 * SECOND },
      });
      await waitFor(
        async () => (await world.row(endpointId))?.last_run_started_at instanceof Date,
        'the first run started',
      );
      const plannedBefore = (await world.row(endpointId))?.next_run_at as Date;

      await world.endpointCommand(endpointId, {
        type: 'ProposeHint',
        data: {
          endpointId,
          hintId: 'slow-down',
          kind: 'interval',
          value: 10 * 60 * SECOND,
          ttlMinutes: 60,
          reason: 'target is overloaded',
          source: 'api',
          model: null,
        },
      });
      await waitFor(
        async () => (await world.row(endpointId))?.next_reason === 'hint:interval',
        'the hint folded',
      );
      const row = await world.row(endpointId);
      const startedAt = (row?.last_run_started_at as Date).getTime();
      expect((row?.next_run_at as Date).getTime()).toBe(startedAt + 10 * 60 * SECOND);
      expect((row?.next_run_at as Date).getTime()).toBeGreaterThan(plannedBefore.getTime());

      const count = world.receivedFor(endpointId).length;
      await whileWitnessRuns(4);
      expect(world.receivedFor(endpointId)).toHaveLength(count);
      const last = (await world.scheduleEvents(endpointId)).at(-1);
      expect(last).toMatchObject({ type: 'NextRunPlanned', data: { reason: 'hint:interval' } });
    });
  });

  describe('When a job is paused and resumed', () => {
    it('should stop planning every endpoint of the job, then plan them again', async () => {
      const pausedJob = await world.createJob();
      const endpoints = [
        await world.createEndpoint(pausedJob, { schedule: { kind: 'interval', intervalMs: SECOND } }),
        await world.createEndpoint(pausedJob, {
          schedule: { kind: 'cron', cron: '*/5 * * * * *', timezone: 'UTC' },
        }),
      ];
      await waitFor(
        async () => endpoints.every((id) => world.receivedFor(id).length >= 1),
        'both endpoints to run',
      );

      await world.jobCommand(pausedJob, {
        type: 'PauseJob',
        data: { jobId: pausedJob, until: null, reason: null },
      });
      const planned = async () => {
        const rows = await Promise.all(endpoints.map((id) => world.row(id)));
        return rows.map((row) => row?.next_run_at ?? null);
      };
      await waitFor(async () => (await planned()).every((at) => at === null), 'both plans dropped');

      await world.jobCommand(pausedJob, { type: 'ResumeJob', data: { jobId: pausedJob } });
      await waitFor(async () => (await planned()).every((at) => at !== null), 'both planned again');
      const counts = endpoints.map((id) => world.receivedFor(id).length);
      await waitFor(
        () => endpoints.every((id, i) => world.receivedFor(id).length > counts[i]),
        'both to run again',
      );
    });
  });

  describe('When an endpoint keeps failing', () => {
    it('should pause it through the endpoint decider after pauseAfterFailures failures', async () => {
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'interval', intervalMs: SECOND },
        pauseAfterFailures: 2,
      });
      world.failing.add(endpointId);
      await waitFor(async () => (await world.row(endpointId))?.status === 'paused', 'the automatic pause');

      const paused = (await world.store.readStream(`endpoint-${endpointId}`)).filter(
        (e) => e.type === 'EndpointPaused',
      );
      expect(paused).toHaveLength(1);
      expect(paused[0]).toMatchObject({
        data: { by: 'failures', until: null },
        metadata: { actor: 'scheduler' },
      });
      expect((await world.row(endpointId))?.next_run_at).toBeNull();
      await whileWitnessRuns(2);
      // Two failures, then nothing handed out after the pause was decided.
      const pausedAt = Date.parse((paused[0].data as { pausedAt: string }).pausedAt);
      const runs = world.receivedFor(endpointId);
      expect(runs.length).toBeGreaterThanOrEqual(2);
      expect(runs.filter((r) => Date.parse(r.item.scheduledFor) > pausedAt)).toEqual([]);
    });
  });

  describe('When a run is requested by hand', () => {
    it('should hand it out at once, outside the schedule', async () => {
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'interval', intervalMs: 3_600 * SECOND },
      });
      await waitFor(() => world.receivedFor(endpointId).length >= 1, 'the first scheduled run');
      await world.endpointCommand(endpointId, {
        type: 'RequestRun',
        data: {
          endpointId,
          runId: 'c0ffee00-0000-4000-8000-000000000001',
          source: 'manual',
          trigger: null,
          retryOf: null,
        },
      });
      await waitFor(
        () => world.receivedFor(endpointId).some((r) => r.item.trigger === 'manual'),
        'the manual run',
      );
      const manual = world.receivedFor(endpointId).find((r) => r.item.trigger === 'manual');
      expect(manual?.item.runId).toBe('c0ffee00-0000-4000-8000-000000000001');
    });
  });

  describe('When nobody starts a dispatched run', () => {
    it('should record RunMissed once, republish it meanwhile, and plan on', async () => {
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'interval', intervalMs: SECOND },
      });
      world.neverStart.add(endpointId);
      await waitFor(
        async () =>
          (await world.scheduleEvents(endpointId)).filter((e) => e.type === 'RunMissed').length >= 2,
        'two missed runs',
      );
      const events = await world.scheduleEvents(endpointId);
      const missed = events.filter((e) => e.type === 'RunMissed').map((e) => e.data as RunMissed['data']);
      expect(new Set(missed.map((m) => m.runId)).size).toBe(missed.length);
      expect(missed[0]).toMatchObject({ endpointId, budgetMs: 1_500 });
      expect(missed[0].lateMs).toBeGreaterThanOrEqual(1_500);
      const skipped = events.filter((e) => e.type === 'RunSkipped').map((e) => e.data as RunSkipped['data']);
      expect(skipped.every((s) => s.policy === 'overlap' && s.reason === 'overlap:in_flight')).toBe(true);
      expect(skipped.length).toBeGreaterThan(0);

      const { rows } = await world.db.pool.query<{ state: string; publish_count: number }>(
        'SELECT state, publish_count FROM scheduler_runs WHERE run_id = $1',
        [missed[0].runId],
      );
      expect(rows[0].state).toBe('missed');
      expect(rows[0].publish_count).toBeGreaterThanOrEqual(2);
      // Republishes within the duplicate window reach the queue once.
      expect(world.received.filter((r) => r.item.runId === missed[0].runId)).toHaveLength(1);
    });
  });
});

describe('Scheduler (queue_one while its fold runs behind)', () => {
  let world: SchedulerWorld;

  beforeAll(async () => {
    world = await SchedulerWorld.create();
    // No missed-run check and no sweep in the test's time: only the due loop sees the log.
    world.startScheduler({ missedAfterMs: 600_000, sweepIntervalMs: 600_000 });
  });
  afterAll(() => world.close());

  const runsIn = (endpointId: string, state: string) => runIdsIn(world, endpointId, state);

  describe('When the run in flight has finished in the log but not in the fold', () => {
    it('should hand out the queued run at the next due time, before any newer run', async () => {
      const jobId = await world.createJob();
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'interval', intervalMs: SECOND },
        overlap: 'queue_one',
      });
      world.neverStart.add(endpointId);
      await waitFor(async () => (await runsIn(endpointId, 'queued')).length === 1, 'a run queued');
      const [queued] = await runsIn(endpointId, 'queued');
      const [inFlight] = await runsIn(endpointId, 'dispatched');
      const inFlightItem = world.receivedFor(endpointId).find((r) => r.item.runId === inFlight)!.item;
      const handedOutBefore = world.receivedFor(endpointId).length;

      await world.pauseRelay();
      await world.run(inFlightItem);
      await waitFor(() => world.receivedFor(endpointId).length > handedOutBefore, 'the next hand-out');

      expect(world.receivedFor(endpointId)[handedOutBefore].item.runId).toBe(queued);
      const queuedNow = await runsIn(endpointId, 'queued');
      expect(queuedNow).toHaveLength(1);
      expect(queuedNow[0]).not.toBe(queued);
    });
  });
});

/**
 * Makes the scheduler's clients run `hook` once, right after the first statement (named
 * `statement`, or whose text contains it) about `id` (in its parameters): the test acts between
 * two statements of the scheduler's transaction.
 */
class Interleave {
  private hook: { id: string; run: () => Promise<void> } | null = null;

  get pending(): boolean {
    return this.hook !== null;
  }

  set(id: string, run: () => Promise<void>): void {
    this.hook = { id, run };
  }

  install(pool: Pool, statement: string): void {
    const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
    (pool as { connect: unknown }).connect = async (...args: unknown[]) => {
      if (args.length > 0) return connect(...args);
      const client = (await connect()) as PoolClient;
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as { query: unknown }).query = async (...args: unknown[]) => {
        const hook = this.hook;
        const config = (
          typeof args[0] === 'string' ? { text: args[0], values: args[1] } : args[0]
        ) as QueryConfig;
        const matches =
          (config.name === statement || config.text.includes(statement)) &&
          JSON.stringify(config.values ?? []).includes(hook?.id ?? '\u0000');
        if (!hook || !matches) return query(...args);
        const result = await query(...args);
        this.hook = null;
        await hook.run();
        return result;
      };
      return client;
    };
  }
}

describe('Scheduler (queue_one: the run in flight finishes while the fire that queues behind it runs)', () => {
  let world: SchedulerWorld;
  /** Runs once, right after a fire of the endpoint has read its open runs (and before it commits). */
  const afterOpenRunsRead = new Interleave();
  const onPool = (pool: Pool) => afterOpenRunsRead.install(pool, 'scheduler.open-runs-of');

  beforeAll(async () => {
    world = await SchedulerWorld.create();
    // Nothing but this replica's due loop sees the log: no sweep, no missed-run check.
    world.startScheduler({ missedAfterMs: 600_000, sweepIntervalMs: 600_000 }, undefined, onPool);
  });
  afterAll(() => world.close());

  it('should hand the queued run out, though the fold of that finish saw no run queued', async () => {
    const jobId = await world.createJob();
    const endpointId = await world.createEndpoint(jobId, {
      schedule: { kind: 'interval', intervalMs: 3_600 * SECOND },
      overlap: 'queue_one',
    });
    world.neverStart.add(endpointId);
    await waitFor(() => world.receivedFor(endpointId).length === 1, 'the first run handed out');
    const first = world.receivedFor(endpointId)[0].item;
    // One more run soon, while the first is in flight; the next an hour later.
    await world.endpointCommand(endpointId, {
      type: 'ProposeHint',
      data: {
        endpointId,
        hintId: 'once-soon',
        kind: 'one_shot',
        value: new Date(world.clock.now().getTime() + 3 * SECOND).toISOString(),
        ttlMinutes: 60,
        reason: 'a run soon',
        source: 'api',
        model: null,
      },
    });
    await waitFor(
      async () => (await world.row(endpointId))?.next_reason === 'hint:one_shot',
      'the hint folded',
    );
    await world.pauseRelay();

    // The dispatcher's transaction with the first run's start and finish began before the
    // fire, so the log's readers may pass it on as soon as it commits, while the fire still runs.
    const dispatcher = await world.db.pool.connect();
    const now = world.clock.now().toISOString();
    const common = {
      runId: first.runId,
      endpointId,
      jobId,
      scheduledFor: first.scheduledFor,
      startedAt: now,
      trigger: first.trigger,
      retryOf: first.retryOf,
    };
    const started: RunStarted = {
      type: 'RunStarted',
      data: { ...common, lateMs: 0, attempt: 1 },
    };
    const finished: RunFinished = {
      type: 'RunFinished',
      data: {
        ...common,
        status: 'success',
        httpStatus: 200,
        durationMs: 5,
        attempts: 1,
        error: null,
        response: null,
        retryAfterMs: null,
        finishedAt: now,
      },
    };
    const folder = handFolder(world);
    try {
      await dispatcher.query('BEGIN');
      await world.store.append(streamIds.run(first.runId), [started, finished], {
        expectedVersion: 0,
        client: dispatcher,
        metadata: { tenantId: world.tenantId, actor: 'test-dispatcher' },
      });
      afterOpenRunsRead.set(endpointId, async () => {
        await dispatcher.query('COMMIT');
        const events = await world.store.readStream(streamIds.run(first.runId));
        await withTransaction(world.db.pool, (client) => folder.handleBatch(events, client));
      });
      await waitFor(() => !afterOpenRunsRead.pending, 'the scheduled fire');
    } finally {
      dispatcher.release();
    }

    // The fire queued its run behind the first, which had finished by then.
    await waitFor(() => world.receivedFor(endpointId).length === 2, 'the queued run handed out', 5_000);
    expect(world.receivedFor(endpointId)[1].item.trigger).toBe('schedule');
  });
});

describe('Scheduler (a run that starts while it is being marked missed)', () => {
  let world: SchedulerWorld;
  /** Runs once, right after the missed-run check has marked the run missed (and before it commits). */
  const afterMarkedMissed = new Interleave();

  beforeAll(async () => {
    world = await SchedulerWorld.create();
    // Nothing but the hand-driven fold below folds the run's events: no relay, no sweep.
    world.startScheduler(
      { missedAfterMs: 1_500, republishAfterMs: 400, sweepIntervalMs: 600_000 },
      undefined,
      (pool) => afterMarkedMissed.install(pool, "SET state = 'missed'"),
    );
  });
  afterAll(() => world.close());

  it('should count it in flight once both have committed', async () => {
    const endpointId = await world.createEndpoint(await world.createJob(), {
      schedule: { kind: 'interval', intervalMs: 3_600 * SECOND },
    });
    world.neverStart.add(endpointId);
    await waitFor(() => world.receivedFor(endpointId).length === 1, 'the run handed out');
    const run = world.receivedFor(endpointId)[0].item;
    await world.pauseRelay();

    // The dispatcher's RunStarted: its transaction began before the missed-run check's, so the
    // log's readers pass it on as soon as it commits, while the check still runs.
    const dispatcher = await world.db.pool.connect();
    const started: RunStarted = {
      type: 'RunStarted',
      data: {
        runId: run.runId,
        endpointId,
        jobId: run.jobId,
        scheduledFor: run.scheduledFor,
        startedAt: world.clock.now().toISOString(),
        trigger: run.trigger,
        retryOf: null,
        lateMs: 1_500,
        attempt: 1,
      },
    };
    const folder = handFolder(world);
    try {
      await dispatcher.query('BEGIN');
      await world.store.append(streamIds.run(run.runId), [started], {
        expectedVersion: 0,
        client: dispatcher,
        metadata: { tenantId: world.tenantId, actor: 'test-dispatcher' },
      });
      afterMarkedMissed.set(run.runId, async () => {
        await dispatcher.query('COMMIT');
        const events = await world.store.readStream(streamIds.run(run.runId));
        await withTransaction(world.db.pool, (client) => folder.handleBatch(events, client));
      });
      await waitFor(() => !afterMarkedMissed.pending, 'the missed-run check');
    } finally {
      dispatcher.release();
    }

    await waitFor(
      async () => (await world.scheduleEvents(endpointId)).some((e) => e.type === 'RunMissed'),
      'RunMissed',
    );
    // The run is running: the overlap policy must count it.
    await waitFor(
      async () => (await runIdsIn(world, endpointId, 'started')).length === 1,
      'the run in flight',
      3_000,
    );
  });
});

describe('Scheduler (republishing while its fold runs behind)', () => {
  let world: SchedulerWorld;

  beforeAll(async () => {
    world = await SchedulerWorld.create();
    world.startScheduler({ republishAfterMs: 300, missedAfterMs: 600_000, sweepIntervalMs: 600_000 });
  });
  afterAll(() => world.close());

  describe('When runs have started in the log but not in the fold', () => {
    it('should not publish them again, and mark them as the log says', async () => {
      const endpointId = await world.createEndpoint(await world.createJob(), {
        schedule: { kind: 'interval', intervalMs: SECOND },
      });
      await waitFor(() => world.receivedFor(endpointId).length >= 2, 'two runs');

      await world.pauseRelay();
      const before = world.receivedFor(endpointId).length;
      await waitFor(
        () => world.receivedFor(endpointId).length >= before + 3,
        'three runs while the fold is paused',
      );
      // The runs received so far; one received later may not have its publish recorded yet.
      const handedOut = world
        .receivedFor(endpointId)
        .slice(before)
        .map((r) => r.item.runId);
      await delay(1_000);

      const { rows } = await world.db.pool.query<{ run_id: string; state: string; publish_count: number }>(
        'SELECT run_id, state, publish_count FROM scheduler_runs WHERE run_id = ANY($1)',
        [handedOut],
      );
      expect(rows).toHaveLength(handedOut.length);
      expect(rows.map((r) => r.publish_count)).toEqual(rows.map(() => 1));
      // Found started (by the outbox) or finished (by the next fire) in the log, as the fold will find them.
      expect(rows.filter((r) => r.state !== 'dispatched').length).toBeGreaterThan(0);
      expect(rows.every((r) => ['dispatched', 'started', 'finished'].includes(r.state))).toBe(true);
    });
  });
});

describe('Scheduler (outbox)', () => {
  let world: SchedulerWorld;
  let endpointId: string;

  beforeAll(async () => {
    world = await SchedulerWorld.create();
    world.startScheduler({ republishAfterMs: 1_000 });
    endpointId = await world.createEndpoint(await world.createJob(), {
      schedule: { kind: 'interval', intervalMs: SECOND },
    });
    await waitFor(() => world.receivedFor(endpointId).length >= 1, 'a run');
  });
  afterAll(() => world.close());

  /** A run of the endpoint as a hand-out commits it, with the given publish columns. */
  const insertRun = async (published: { at: string | null; count: number }) => {
    const item = { ...world.receivedFor(endpointId)[0].item, runId: randomUUID() };
    await world.db.pool.query(
      `INSERT INTO scheduler_runs (run_id, endpoint_id, tenant_id, trigger, scheduled_for, state, work_item,
                                   dispatched_at, published_at, publish_count)
       VALUES ($1, $2, $3, 'schedule', $4, 'dispatched', $5, now(), ${published.at ?? 'NULL'}, $6)`,
      [item.runId, endpointId, item.tenantId, item.scheduledFor, item, published.count],
    );
    return item;
  };
  const publishCount = async (runId: string) =>
    (
      await world.db.pool.query<{ publish_count: number }>(
        'SELECT publish_count FROM scheduler_runs WHERE run_id = $1',
        [runId],
      )
    ).rows[0]?.publish_count;
  const receivedOf = (runId: string) => world.receivedFor(endpointId).filter((r) => r.item.runId === runId);

  describe('When a hand-out failed to publish its run', () => {
    it('should publish it from the outbox and record the publish', async () => {
      // What a failed publish leaves: un-recorded, as if never published.
      const item = await insertRun({ at: null, count: 0 });

      await waitFor(() => receivedOf(item.runId).length > 0, 'the run published by the outbox');
      await waitFor(async () => (await publishCount(item.runId)) === 1, 'the publish recorded');
      expect(receivedOf(item.runId)).toHaveLength(1);
    });
  });

  describe('When a replica handed a run out and died before publishing it', () => {
    it('should publish it once it is overdue for a start', async () => {
      // The hand-out recorded the publish in its transaction; the process died before publishing.
      const item = await insertRun({ at: 'now()', count: 1 });

      await waitFor(() => receivedOf(item.runId).length > 0, 'the run republished');
      await waitFor(async () => (await publishCount(item.runId)) === 2, 'the republish recorded');
      expect(receivedOf(item.runId)).toHaveLength(1);
    });
  });
});

describe('Scheduler (user commands while run events queue up)', () => {
  let world: SchedulerWorld;
  let scheduler: Scheduler;

  beforeAll(async () => {
    world = await SchedulerWorld.create();
    scheduler = world.startScheduler();
  });
  afterAll(() => world.close());

  describe('When the run fold has stopped and an endpoint is paused', () => {
    it('should fold the pause and hand out no more runs of it', async () => {
      const endpointId = await world.createEndpoint(await world.createJob(), {
        schedule: { kind: 'interval', intervalMs: SECOND },
      });
      await waitFor(() => world.receivedFor(endpointId).length >= 2, 'two runs');

      const runFold = scheduler.consumers[SCHEDULER_FOLDS.findIndex((fold) => fold.category === 'run')];
      await runFold.stop();
      await world.endpointCommand(endpointId, {
        type: 'PauseEndpoint',
        data: { endpointId, until: null, reason: 'maintenance' },
      });

      await waitFor(async () => (await world.row(endpointId))?.status === 'paused', 'the pause folded');
      expect((await world.row(endpointId))?.next_run_at).toBeNull();
      const before = world.receivedFor(endpointId).length;
      await delay(2 * SECOND);
      expect(world.receivedFor(endpointId).length).toBeLessThanOrEqual(before + 1);
    });
  });
});

describe('Scheduler (plans at the edges of a schedule)', () => {
  let world: SchedulerWorld;
  let jobId: string;

  beforeAll(async () => {
    world = await SchedulerWorld.create();
    world.startScheduler({ missedAfterMs: 600_000, sweepIntervalMs: 600_000 });
    jobId = await world.createJob();
  });
  afterAll(() => world.close());

  describe('When a cron has a fire time exactly at its endAt', () => {
    it('should hand that last run out, though it is handed out a little after endAt', async () => {
      const endAt = new Date(Math.ceil(Date.now() / SECOND) * SECOND + 3 * SECOND).toISOString();
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'cron', cron: '* * * * * *', timezone: 'UTC' },
        endAt,
      });
      await waitFor(
        async () =>
          Date.now() > Date.parse(endAt) + 500 && (await world.row(endpointId))?.next_run_at === null,
        'the schedule to end',
      );
      await waitFor(
        () => world.receivedFor(endpointId).some((r) => r.item.scheduledFor === endAt),
        'the run at endAt',
        2 * SECOND,
      );
      expect(
        world.receivedFor(endpointId).every((r) => Date.parse(r.item.scheduledFor) <= Date.parse(endAt)),
      ).toBe(true);
    });
  });

  describe('When an endpoint that has run is changed to a one-time run', () => {
    it('should hand the one-time run out at its time', async () => {
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'interval', intervalMs: SECOND },
      });
      await waitFor(() => world.receivedFor(endpointId).length >= 2, 'two runs');

      const runAt = new Date(Date.now() + 1_500).toISOString();
      await world.endpointCommand(endpointId, {
        type: 'UpdateEndpoint',
        data: { endpointId, changes: { schedule: { kind: 'once', runAt } } },
      });
      await waitFor(
        () => world.receivedFor(endpointId).some((r) => r.item.scheduledFor === runAt),
        'the one-time run',
        5 * SECOND,
      );
      await delay(1_500);
      expect(
        world.receivedFor(endpointId).filter((r) => Date.parse(r.item.scheduledFor) >= Date.parse(runAt)),
      ).toHaveLength(1);
      expect((await world.row(endpointId))?.next_run_at).toBeNull();
    });
  });

  describe('When failures reach pauseAfterFailures during a pause until a time', () => {
    it('should pause the endpoint for its failures at its first run after that pause', async () => {
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'interval', intervalMs: 4 * SECOND },
        pauseAfterFailures: 1,
      });
      world.neverStart.add(endpointId);
      await waitFor(() => world.receivedFor(endpointId).length >= 1, 'the first run');
      const until = new Date(Date.now() + 3 * SECOND).toISOString();
      await world.endpointCommand(endpointId, {
        type: 'PauseEndpoint',
        data: { endpointId, until, reason: 'target maintenance' },
      });
      await waitFor(async () => (await world.row(endpointId))?.status === 'paused', 'the pause folded');

      // The run in flight when the pause began fails.
      world.failing.add(endpointId);
      await world.run(world.receivedFor(endpointId)[0].item);

      const pausedByFailures = async () =>
        (await world.store.readStream(`endpoint-${endpointId}`)).some(
          (e) => e.type === 'EndpointPaused' && (e.data as { by: string }).by === 'failures',
        );
      await waitFor(pausedByFailures, 'the pause for failures', 8 * SECOND);
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(until));
      expect(world.receivedFor(endpointId)).toHaveLength(1);
      expect((await world.row(endpointId))?.next_run_at).toBeNull();
    });
  });
});

describe('Scheduler (a queued run when its endpoint stops)', () => {
  let world: SchedulerWorld;

  beforeAll(async () => {
    world = await SchedulerWorld.create();
    world.startScheduler({ missedAfterMs: 600_000, sweepIntervalMs: 600_000 });
  });
  afterAll(() => world.close());

  const runsIn = (endpointId: string, state: string) => runIdsIn(world, endpointId, state);

  it.each([
    [
      'paused',
      (w: SchedulerWorld, endpointId: string, _jobId: string) =>
        w.endpointCommand(endpointId, {
          type: 'PauseEndpoint',
          data: { endpointId, until: null, reason: null },
        }),
    ],
    [
      'archived',
      (w: SchedulerWorld, endpointId: string, _jobId: string) =>
        w.endpointCommand(endpointId, { type: 'ArchiveEndpoint', data: { endpointId } }),
    ],
    [
      'paused with its job',
      (w: SchedulerWorld, _endpointId: string, jobId: string) =>
        w.jobCommand(jobId, { type: 'PauseJob', data: { jobId, until: null, reason: null } }),
    ],
  ])('should not hand out the run queue_one held back once the endpoint is %s', async (_, stop) => {
    const jobId = await world.createJob();
    const endpointId = await world.createEndpoint(jobId, {
      schedule: { kind: 'interval', intervalMs: SECOND },
      overlap: 'queue_one',
    });
    world.neverStart.add(endpointId);
    await waitFor(async () => (await runsIn(endpointId, 'queued')).length === 1, 'a run queued');
    const [queued] = await runsIn(endpointId, 'queued');
    const [inFlight] = await runsIn(endpointId, 'dispatched');

    await stop(world, endpointId, jobId);
    await waitFor(async () => (await world.row(endpointId))?.next_run_at === null, 'the stop folded');
    await world.run(world.receivedFor(endpointId).find((r) => r.item.runId === inFlight)!.item);
    await waitFor(async () => (await runsIn(endpointId, 'finished')).includes(inFlight), 'the finish folded');
    await delay(SECOND);

    expect(world.received.filter((r) => r.item.runId === queued)).toEqual([]);
    expect(await runsIn(endpointId, 'dispatched')).toEqual([]);
    const skips = (await world.scheduleEvents(endpointId))
      .filter((e) => e.type === 'RunSkipped')
      .map((e) => e.data as RunSkipped['data']);
    expect(skips).toContainEqual(expect.objectContaining({ runId: queued, policy: 'paused', count: 1 }));
  });

  it('should not hand out the run queue_one held back when the run in flight reaches pauseAfterFailures', async () => {
    const endpointId = await world.createEndpoint(await world.createJob(), {
      schedule: { kind: 'interval', intervalMs: SECOND },
      overlap: 'queue_one',
      pauseAfterFailures: 1,
    });
    world.neverStart.add(endpointId);
    await waitFor(async () => (await runsIn(endpointId, 'queued')).length === 1, 'a run queued');
    const [queued] = await runsIn(endpointId, 'queued');
    const [inFlight] = await runsIn(endpointId, 'dispatched');

    world.failing.add(endpointId);
    await world.run(world.receivedFor(endpointId).find((r) => r.item.runId === inFlight)!.item);
    await waitFor(async () => (await world.row(endpointId))?.status === 'paused', 'the pause for failures');
    await delay(SECOND);

    expect(world.received.filter((r) => r.item.runId === queued)).toEqual([]);
    const skips = (await world.scheduleEvents(endpointId))
      .filter((e) => e.type === 'RunSkipped')
      .map((e) => e.data as RunSkipped['data']);
    expect(skips).toContainEqual(
      expect.objectContaining({ runId: queued, policy: 'paused', reason: 'queued:pause_after_failures' }),
    );
  });
});
