import { NextRunPlanned } from '@cronicorn/events';
import { OffsetClock } from '@cronicorn/platform';
import { exitOf, lineFrom, PublishCounter, SchedulerWorld, spawnScheduler, waitFor } from '../test/harness';

jest.setTimeout(120_000);

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

describe('Scheduler replicas', () => {
  describe('When three replicas share many short-interval endpoints', () => {
    let world: SchedulerWorld;
    beforeAll(async () => {
      world = await SchedulerWorld.create();
    });
    afterAll(() => world.close());

    it('should hand every planned run out exactly once and lose none', async () => {
      const counters = [new PublishCounter(), new PublishCounter(), new PublishCounter()];
      counters.forEach((counter) => world.startScheduler({}, counter));
      const jobId = await world.createJob();
      const endpoints: string[] = [];
      for (let i = 0; i < 50; i++) {
        endpoints.push(
          await world.createEndpoint(jobId, { schedule: { kind: 'interval', intervalMs: SECOND } }),
        );
      }
      await waitFor(() => world.received.length >= 550, '550 dispatches', 60_000);

      // Stop the schedule, then let everything handed out so far arrive and finish.
      await world.jobCommand(jobId, { type: 'ArchiveJob', data: { jobId } });
      const open = async () =>
        (
          await world.db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM scheduler_runs WHERE state <> 'finished'`,
          )
        ).rows[0].n;
      await waitFor(
        async () =>
          (await world.db.pool.query(`SELECT 1 FROM scheduler_endpoints WHERE next_run_at IS NOT NULL`))
            .rowCount === 0 && (await open()) === 0,
        'the schedule to go quiet',
        30_000,
      );

      const { rows: runs } = await world.db.pool.query<{ run_id: string; publish_count: number }>(
        'SELECT run_id, publish_count FROM scheduler_runs',
      );
      const messages = new Map<number, (typeof world.received)[number]>(
        world.received.map((r) => [r.seq, r]),
      );
      const byRun = new Map<string, number>();
      const bySlot = new Map<string, number>();
      for (const { item } of messages.values()) {
        byRun.set(item.runId, (byRun.get(item.runId) ?? 0) + 1);
        const slot = `${item.endpointId}@${item.scheduledFor}`;
        bySlot.set(slot, (bySlot.get(slot) ?? 0) + 1);
      }

      expect(runs.length).toBeGreaterThanOrEqual(550);
      // None twice: one message per run id, one run per endpoint slot, one publish per run.
      expect([...byRun.values()].filter((n) => n > 1)).toEqual([]);
      expect([...bySlot.values()].filter((n) => n > 1)).toEqual([]);
      expect(runs.filter((r) => r.publish_count !== 1)).toEqual([]);
      expect(counters.reduce((n, c) => n + c.duplicates, 0)).toBe(0);
      // None lost: every run recorded as handed out reached the queue, and nothing else did.
      expect(new Set(byRun.keys())).toEqual(new Set(runs.map((r) => r.run_id)));
      // Every run was planned first (NextRunPlanned with its id and time) and not handed out early.
      const plans = new Map<string, NextRunPlanned['data']>();
      for (const endpointId of endpoints) {
        for (const event of await world.scheduleEvents(endpointId)) {
          if (event.type === 'NextRunPlanned') {
            const data = event.data as NextRunPlanned['data'];
            plans.set(data.runId, data);
          }
        }
      }
      for (const { item, receivedAt } of messages.values()) {
        expect(plans.get(item.runId)?.runAt).toBe(item.scheduledFor);
        expect(receivedAt).toBeGreaterThanOrEqual(Date.parse(item.scheduledFor));
      }
      // The leases spread the work.
      expect(counters.filter((c) => c.published > 0).length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('When a replica dies holding leases', () => {
    let world: SchedulerWorld;
    beforeAll(async () => {
      world = await SchedulerWorld.create();
    });
    afterAll(() => world.close());

    it('should let another replica hand the run out once its lease has expired', async () => {
      const child = spawnScheduler({
        DATABASE_URL: world.db.url,
        NATS_URL: world.nats.url,
        NATS_NAMESPACE: world.names.namespace,
        SCHEDULER_OPTIONS: JSON.stringify({ horizonMs: 30_000, leaseMs: 2_000, pollIntervalMs: 100 }),
      });
      try {
        const owner = await lineFrom(child, 'owner ');
        const jobId = await world.createJob();
        const runAt = new Date(Date.now() + 8 * SECOND).toISOString();
        const endpointId = await world.createEndpoint(jobId, { schedule: { kind: 'once', runAt } });
        await waitFor(
          async () => (await world.row(endpointId))?.lease_owner === owner,
          'the child to lease the run',
        );
        const leaseUntil = ((await world.row(endpointId))?.lease_until as Date).getTime();

        child.kill('SIGKILL');
        await exitOf(child);
        const survivor = world.startScheduler();

        await waitFor(() => world.receivedFor(endpointId).length >= 1, 'the run from the survivor');
        await waitFor(
          async () =>
            (
              await world.db.pool.query(
                `SELECT 1 FROM scheduler_runs WHERE endpoint_id = $1 AND state = 'finished'`,
                [endpointId],
              )
            ).rowCount === 1,
          'the run to finish',
        );
        const [run] = world.receivedFor(endpointId);
        expect(world.receivedFor(endpointId)).toHaveLength(1);
        expect(run.item.scheduledFor).toBe(runAt);
        expect(run.receivedAt).toBeGreaterThanOrEqual(leaseUntil);
        expect((await world.row(endpointId))?.lease_owner).toBeNull();
        await world.stopScheduler(survivor);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });
  });

  describe('When the apps run on a clock set just before a minute boundary', () => {
    let world: SchedulerWorld;
    beforeAll(async () => {
      world = await SchedulerWorld.create();
    });
    afterAll(() => world.close());

    it('should hand a cron run out at the cron instant', async () => {
      const jobId = await world.createJob();
      const boundary = (Math.floor(Date.now() / MINUTE) + 2) * MINUTE;
      // A few seconds of margin for the fold: a plan made after the boundary would be the next minute's.
      world.clock = new OffsetClock(boundary - 4_000 - Date.now());
      world.startScheduler();
      const endpointId = await world.createEndpoint(jobId, {
        schedule: { kind: 'cron', cron: '* * * * *', timezone: 'UTC' },
      });

      await waitFor(() => world.receivedFor(endpointId).length >= 1, 'the cron run', 15_000);
      const [run] = world.receivedFor(endpointId);
      expect(run.item.scheduledFor).toBe(new Date(boundary).toISOString());
      expect(run.receivedAt).toBeGreaterThanOrEqual(boundary);
      const plans = (await world.scheduleEvents(endpointId)).filter((e) => e.type === 'NextRunPlanned');
      expect(plans[0].data).toMatchObject({ runId: run.item.runId, reason: 'cron' });
      // The next plan is the following minute, not a repeat of this one.
      expect(plans.at(-1)?.data).toMatchObject({ runAt: new Date(boundary + MINUTE).toISOString() });
    });
  });
});
