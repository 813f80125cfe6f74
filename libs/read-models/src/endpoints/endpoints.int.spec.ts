import { Event, EventEnvelope, streamIds } from '@cronicorn/events';
import { withTransaction } from '@cronicorn/platform';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import {
  analysisCompleted,
  analysisFailed,
  at,
  endpointConfig,
  endpointCreated,
  hintProposed,
  History,
  newId,
  nextRunPlanned,
  runEvents,
  runMissed,
  runSkipped,
  RunSpec,
  snapshotReadModels,
  TenantHistory,
} from '../../test/fixtures';
import { projectToReadModels } from '../read-models';
import { getEndpoint, listEndpoints } from './endpoints.queries';

jest.setTimeout(30_000);

describe('Endpoints read model', () => {
  let db: TestDatabase;
  let history: History;

  beforeAll(async () => {
    db = await createTestDatabase();
    history = new History(db.pool);
  });
  afterAll(() => db.drop());

  const now = new Date(at(60));

  async function givenEndpoint(): Promise<{ tenant: TenantHistory; jobId: string; endpointId: string }> {
    const tenant = history.tenant();
    const jobId = await tenant.job();
    const endpointId = await tenant.endpoint(jobId);
    return { tenant, jobId, endpointId };
  }

  describe('When an endpoint is created', () => {
    it('should show its config with the secret header names and never their values', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();

      const view = await getEndpoint(db.pool, tenant.tenantId, endpointId, { now });
      const { secretHeaders: _secret, ...expectedConfig } = endpointConfig();
      expect(view).toEqual({
        id: endpointId,
        tenantId: tenant.tenantId,
        jobId,
        name: 'ping',
        description: 'checks the target',
        config: { ...expectedConfig, secretHeaderNames: ['authorization', 'x-token'] },
        status: 'active',
        pause: null,
        jobPaused: false,
        effectiveStatus: 'active',
        nextRun: null,
        noRunReason: null,
        lastRun: null,
        failureStreak: 0,
        lastSuccessAt: null,
        activeHints: [],
        lastAnalysis: null,
        runsCount: 0,
        createdAt: at(0),
        updatedAt: at(0),
        archivedAt: null,
      });
      const { rows } = await db.pool.query(
        'SELECT config::text AS config FROM rm_endpoints WHERE endpoint_id = $1',
        [endpointId],
      );
      expect(rows[0].config).not.toContain('enc:v1');
    });

    it('should be invisible to another tenant', async () => {
      const { endpointId } = await givenEndpoint();
      expect(await getEndpoint(db.pool, history.tenant().tenantId, endpointId, { now })).toBeNull();
    });
  });

  describe('When an endpoint is updated', () => {
    it('should show the new config', async () => {
      const { tenant, endpointId } = await givenEndpoint();
      const config = endpointConfig({ name: 'renamed', url: 'https://example.com/v2', secretHeaders: {} });
      await tenant.endpointEvent(endpointId, {
        type: 'EndpointUpdated',
        data: { endpointId, changes: { name: 'renamed', url: config.url }, config, updatedAt: at(3) },
      });

      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        name: 'renamed',
        config: { url: 'https://example.com/v2', secretHeaderNames: [] },
        updatedAt: at(3),
      });
    });
  });

  describe('When an endpoint or its job is paused', () => {
    it('should show its own pause until its end', async () => {
      const { tenant, endpointId } = await givenEndpoint();
      await tenant.endpointEvent(endpointId, {
        type: 'EndpointPaused',
        data: { endpointId, until: at(90), reason: 'deploy', by: 'user', pausedAt: at(10) },
      });

      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        status: 'paused',
        effectiveStatus: 'paused',
        pause: { until: at(90), reason: 'deploy', by: 'user', pausedAt: at(10) },
      });
      expect(
        await getEndpoint(db.pool, tenant.tenantId, endpointId, { now: new Date(at(91)) }),
      ).toMatchObject({
        status: 'active',
        effectiveStatus: 'active',
        pause: null,
      });
    });

    it('should read as effectively paused while its job is paused, and archived with its job', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      await tenant.jobEvent(jobId, {
        type: 'JobPaused',
        data: { jobId, until: null, reason: null, pausedAt: at(1) },
      });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        status: 'active',
        jobPaused: true,
        effectiveStatus: 'paused',
        noRunReason: 'job_paused',
      });

      await tenant.endpointEvent(endpointId, hintProposed(endpointId, 'interval', 30_000, 600, 1));
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        activeHints: [{ kind: 'interval' }],
      });

      await tenant.jobEvent(jobId, { type: 'JobArchived', data: { jobId, archivedAt: at(2) } });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        status: 'active',
        jobPaused: false,
        effectiveStatus: 'archived',
        noRunReason: 'job_archived',
        // Nothing of the endpoint is in force any more: the governor plans no run at all.
        activeHints: [],
      });
    });

    it('should hide the planned run while paused without an end', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      const plan = nextRunPlanned(endpointId, jobId, 5, 1);
      await tenant.scheduleEvent(endpointId, plan);
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        nextRun: { runId: plan.data.runId, at: at(5), reason: 'interval', plannedAt: at(1) },
      });

      await tenant.endpointEvent(endpointId, {
        type: 'EndpointPaused',
        data: { endpointId, until: null, reason: null, by: 'failures', pausedAt: at(2) },
      });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        status: 'paused',
        pause: { by: 'failures', until: null },
        nextRun: null,
        noRunReason: 'pause_after_failures',
      });
    });
  });

  describe('When runs start and finish', () => {
    it('should show the newest run, running or finished, and count the runs once each', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      await tenant.run(endpointId, jobId, { status: 'success', startedAtMin: 1, durationMs: 120 });
      const runId = newId('run');
      const [started, finished] = runEvents(runId, endpointId, jobId, { status: 'failed', startedAtMin: 2 });
      await history.given(tenant.tenantId, streamIds.run(runId), started);

      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        lastRun: { runId, status: 'running', startedAt: at(2), finishedAt: null, httpStatus: null },
        runsCount: 2,
      });

      await history.given(tenant.tenantId, streamIds.run(runId), finished);
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        lastRun: {
          runId,
          status: 'failed',
          httpStatus: 500,
          durationMs: 100,
          finishedAt: finished.data.finishedAt,
        },
        runsCount: 2,
      });
    });
    it('should show no next run once the planned run has started and nothing followed it', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      const plan = nextRunPlanned(endpointId, jobId, 5, 1);
      await tenant.scheduleEvent(endpointId, plan);
      const otherRun = newId('run');
      await history.given(
        tenant.tenantId,
        streamIds.run(otherRun),
        runEvents(otherRun, endpointId, jobId, { status: 'success', startedAtMin: 3 })[0],
      );
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        nextRun: { runId: plan.data.runId },
      });

      const [started] = runEvents(plan.data.runId, endpointId, jobId, { status: 'success', startedAtMin: 5 });
      await history.given(tenant.tenantId, streamIds.run(plan.data.runId), started);
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        nextRun: null,
        noRunReason: null,
      });
    });

    it('should show no next run when the plan of a run that already started arrives after it', async () => {
      // The plan was the last event of its stream (nothing follows before endAt) and NATS lost
      // it: the sweep applies it after the run's RunStarted.
      const { tenant, jobId } = await givenEndpoint();
      const endpointId = await tenant.endpoint(jobId, { endAt: at(5.5) });
      const plan = nextRunPlanned(endpointId, jobId, 5, 1);
      const [started] = runEvents(plan.data.runId, endpointId, jobId, { status: 'success', startedAtMin: 5 });
      await history.given(tenant.tenantId, streamIds.run(plan.data.runId), started);
      await tenant.scheduleEvent(endpointId, plan);

      expect(
        await getEndpoint(db.pool, tenant.tenantId, endpointId, { now: new Date(at(5.2)) }),
      ).toMatchObject({
        nextRun: null,
      });
    });

    it.each([
      ['ended:end_at', { endAt: at(30) }],
      ['ended:max_runs', { maxRuns: 1 }],
    ])(
      'should hide a planned run that an update ended (%s): the scheduler drops it without an event',
      async (reason, changes) => {
        const { tenant, jobId, endpointId } = await givenEndpoint();
        await tenant.run(endpointId, jobId, { status: 'success', startedAtMin: 2 });
        const plan = nextRunPlanned(endpointId, jobId, 90, 3);
        await tenant.scheduleEvent(endpointId, plan);
        expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
          nextRun: { runId: plan.data.runId },
        });

        await tenant.endpointEvent(endpointId, {
          type: 'EndpointUpdated',
          data: { endpointId, changes, config: endpointConfig(changes), updatedAt: at(20) },
        });
        expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
          nextRun: null,
          noRunReason: reason,
        });
      },
    );

    it('should not call a schedule ended before its endAt or by runs it did not make', async () => {
      const { tenant, jobId } = await givenEndpoint();
      const endpointId = await tenant.endpoint(jobId, { endAt: at(600), maxRuns: 1 });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        nextRun: null,
        noRunReason: null,
      });

      await tenant.run(endpointId, jobId, { status: 'success', startedAtMin: 2, trigger: 'manual' });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        runsCount: 1,
        noRunReason: null,
      });
    });

    it.each([
      ['ended:once', { schedule: { kind: 'once' as const, runAt: at(5) } }],
      ['ended:max_runs', { maxRuns: 1 }],
      ['ended:end_at', { endAt: at(30) }],
    ])('should tell %s when the last run of an ended schedule has started', async (reason, config) => {
      const { tenant, jobId } = await givenEndpoint();
      const endpointId = await tenant.endpoint(jobId, config);
      const plan = nextRunPlanned(endpointId, jobId, 5, 1);
      await tenant.scheduleEvent(endpointId, plan);
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now: new Date(at(4)) })).toMatchObject(
        {
          nextRun: { runId: plan.data.runId },
          noRunReason: null,
        },
      );

      const [started] = runEvents(plan.data.runId, endpointId, jobId, { status: 'success', startedAtMin: 5 });
      await history.given(tenant.tenantId, streamIds.run(plan.data.runId), started);
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        nextRun: null,
        noRunReason: reason,
      });
    });

    it('should not call a one-time schedule ended by runs of the schedule it replaced', async () => {
      // An interval endpoint ran, then was changed to run once at a time still ahead: the
      // governor counts only a scheduled run at or after that time (docs/governor.md rule 1).
      const { tenant, jobId, endpointId } = await givenEndpoint();
      await tenant.run(endpointId, jobId, { status: 'success', startedAtMin: 2 });
      const changes = { schedule: { kind: 'once' as const, runAt: at(90) } };
      await tenant.endpointEvent(endpointId, {
        type: 'EndpointUpdated',
        data: { endpointId, changes, config: endpointConfig(changes), updatedAt: at(20) },
      });
      const plan = nextRunPlanned(endpointId, jobId, 90, 20);
      await tenant.scheduleEvent(endpointId, plan);

      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        nextRun: { runId: plan.data.runId, at: at(90) },
        noRunReason: null,
      });

      const [started] = runEvents(plan.data.runId, endpointId, jobId, {
        status: 'success',
        startedAtMin: 90,
      });
      await history.given(tenant.tenantId, streamIds.run(plan.data.runId), started);
      expect(
        await getEndpoint(db.pool, tenant.tenantId, endpointId, { now: new Date(at(91)) }),
      ).toMatchObject({ nextRun: null, noRunReason: 'ended:once' });
    });

    it('should show no next run once the planned run was skipped and nothing followed it', async () => {
      // A one-time run whose slot the overlap policy skipped (a manual run was in flight) has
      // ended: the scheduler plans nothing after the skip.
      const { tenant, jobId } = await givenEndpoint();
      const endpointId = await tenant.endpoint(jobId, { schedule: { kind: 'once', runAt: at(5) } });
      const plan = nextRunPlanned(endpointId, jobId, 5, 1);
      const skipped = runSkipped(endpointId, 5);
      await tenant.scheduleEvent(endpointId, plan, {
        ...skipped,
        data: { ...skipped.data, runId: plan.data.runId },
      });

      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        nextRun: null,
      });

      // A recurring schedule plans the next slot right after the skip.
      const recurring = await tenant.endpoint(jobId);
      const first = nextRunPlanned(recurring, jobId, 5, 1);
      const second = nextRunPlanned(recurring, jobId, 6, 5);
      const skippedFirst = runSkipped(recurring, 5);
      await tenant.scheduleEvent(
        recurring,
        first,
        { ...skippedFirst, data: { ...skippedFirst.data, runId: first.data.runId } },
        second,
      );
      expect(await getEndpoint(db.pool, tenant.tenantId, recurring, { now })).toMatchObject({
        nextRun: { runId: second.data.runId, at: at(6) },
      });
    });

    it('should show no next run once the planned run was missed and nothing followed it', async () => {
      // The last run of a schedule that ended with it (a one-time run) was handed out and did
      // not start within its lateness budget: it is overdue, not next.
      const { tenant, jobId } = await givenEndpoint();
      const endpointId = await tenant.endpoint(jobId, { schedule: { kind: 'once', runAt: at(5) } });
      const plan = nextRunPlanned(endpointId, jobId, 5, 1);
      const missed = runMissed(endpointId, 5);
      await tenant.scheduleEvent(endpointId, plan, {
        ...missed,
        data: { ...missed.data, runId: plan.data.runId },
      });

      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        nextRun: null,
      });
    });
  });

  describe('Failure streak', () => {
    it('should count consecutive failed and timed-out runs, whatever asked for them', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      await tenant.run(endpointId, jobId, { status: 'success', startedAtMin: 1 });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 2 });
      await tenant.run(endpointId, jobId, { status: 'timeout', startedAtMin: 3, trigger: 'manual' });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 4, trigger: 'retry' });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 5, trigger: 'trigger' });

      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        failureStreak: 4,
        lastSuccessAt: expect.stringMatching(/^2026-03-02T10:01:00/),
      });
    });

    it("should end with any success, a retry's too, as in the scheduler", async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 1 });
      await tenant.run(endpointId, jobId, { status: 'success', startedAtMin: 2, trigger: 'retry' });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        failureStreak: 0,
      });

      await tenant.run(endpointId, jobId, { status: 'success', startedAtMin: 3 });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 4 });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        failureStreak: 1,
      });
    });

    it('should restart at FailuresReset and at EndpointResumed', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 1 });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 2 });
      await tenant.endpointEvent(endpointId, { type: 'FailuresReset', data: { endpointId, resetAt: at(3) } });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        failureStreak: 0,
      });

      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 4 });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 5 });
      await tenant.endpointEvent(endpointId, {
        type: 'EndpointPaused',
        data: { endpointId, until: null, reason: 'too many failures', by: 'failures', pausedAt: at(6) },
      });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        failureStreak: 2,
      });

      await tenant.endpointEvent(endpointId, {
        type: 'EndpointResumed',
        data: { endpointId, resumedAt: at(7) },
      });
      await tenant.run(endpointId, jobId, { status: 'timeout', startedAtMin: 8 });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        status: 'active',
        failureStreak: 1,
      });
    });

    it('should come out the same when runs finish out of order', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      // The success started first but its event arrives last.
      const ok = newId('run');
      const okEvents = runEvents(ok, endpointId, jobId, { status: 'success', startedAtMin: 1 });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 2 });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 3 });
      await history.given(tenant.tenantId, streamIds.run(ok), ...okEvents);

      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        failureStreak: 2,
      });
    });
  });

  describe('When run events move the row on from its own columns', () => {
    // Applying an event with the full recompute counts over the endpoint's runs; the
    // incremental update reads only the row and the run's own rm_runs row.
    const RECOUNT = /\b(count\(\*\)|max\(finished_at\)) FROM rm_runs\b/;

    interface RunColumns {
      runs_count: number;
      last_run_id: string | null;
      last_run_status: string | null;
      last_run_http_status: number | null;
      last_run_duration_ms: number | null;
      last_run_started_at: Date | null;
      last_run_finished_at: Date | null;
      last_success_at: Date | null;
      failure_streak: number;
    }

    interface ScenarioRun extends RunSpec {
      /** A second delivery's RunStarted (attempt 2) at this minute, which the finish then reports. */
      restartAtMin?: number;
      /** Started and not finished. */
      open?: boolean;
      /** After the finish, events the dispatcher never appends (ADR 0007): another start, the finish again. */
      late?: ('start' | 'finish')[];
    }

    interface Scenario {
      runs: Record<string, ScenarioRun>;
      /** FailuresReset instants (minutes), in their stream's order, under the label `reset`. */
      resetsAtMin?: number[];
    }

    interface Step {
      label: string;
      recounted: boolean;
      /** The run columns, with the last run's id replaced by its label. */
      row: RunColumns;
    }

    /** The run columns as the read model's rules define them, straight from rm_runs. */
    async function recomputed(endpointId: string): Promise<RunColumns> {
      const { rows } = await db.pool.query<RunColumns>(
        `WITH runs AS (SELECT * FROM rm_runs WHERE endpoint_id = $1),
              counted AS (SELECT * FROM runs WHERE finished_at IS NOT NULL),
              last AS (SELECT * FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 1),
              success AS (SELECT max(finished_at) AS at FROM counted WHERE status = 'success')
         SELECT (SELECT count(*)::int FROM runs) AS runs_count, last.run_id AS last_run_id,
                last.status AS last_run_status, last.http_status AS last_run_http_status,
                last.duration_ms AS last_run_duration_ms, last.started_at AS last_run_started_at,
                last.finished_at AS last_run_finished_at, success.at AS last_success_at,
                (SELECT count(*)::int FROM counted
                  WHERE status IN ('failed', 'timeout')
                    AND finished_at > COALESCE(GREATEST(success.at, e.failures_reset_at), '-infinity')
                ) AS failure_streak
           FROM rm_endpoints e CROSS JOIN success LEFT JOIN last ON true
          WHERE e.endpoint_id = $1`,
        [endpointId],
      );
      return rows[0];
    }

    async function runColumns(endpointId: string): Promise<RunColumns> {
      const { rows } = await db.pool.query<RunColumns>(
        `SELECT runs_count, last_run_id, last_run_status, last_run_http_status, last_run_duration_ms,
                last_run_started_at, last_run_finished_at, last_success_at, failure_streak
           FROM rm_endpoints WHERE endpoint_id = $1`,
        [endpointId],
      );
      return rows[0];
    }

    /** Applies one event in its own transaction; true if that counted over the endpoint's runs. */
    async function projectWatched(envelope: EventEnvelope): Promise<boolean> {
      return withTransaction(db.pool, async (client) => {
        const query = jest.spyOn(client, 'query');
        try {
          await projectToReadModels(envelope, client);
          return query.mock.calls.some(([sql]) => {
            const text = typeof sql === 'string' ? sql : (sql as { text?: string }).text;
            return text !== undefined && RECOUNT.test(text);
          });
        } finally {
          query.mockRestore();
        }
      });
    }

    /**
     * A fresh endpoint gets the scenario's streams, applied in `order` (each label takes the
     * next event of its stream); after every event the row must equal the recompute.
     */
    async function replay(scenario: Scenario, order: readonly string[]): Promise<Step[]> {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      const pending = new Map<string, EventEnvelope[]>();
      const labelOf = new Map<string, string>();
      for (const [label, spec] of Object.entries(scenario.runs)) {
        const runId = newId('run');
        labelOf.set(runId, label);
        const [started, finished] = runEvents(runId, endpointId, jobId, spec);
        const events: Event[] = [started];
        if (spec.restartAtMin !== undefined) {
          const lateMs = Math.round((spec.restartAtMin - spec.startedAtMin) * 60_000) + (spec.lateMs ?? 0);
          const [restarted, restartedFinish] = runEvents(runId, endpointId, jobId, {
            ...spec,
            startedAtMin: spec.restartAtMin,
            lateMs,
          });
          events.push({ ...restarted, data: { ...restarted.data, attempt: 2 } }, restartedFinish);
        } else if (!spec.open) {
          events.push(finished);
        }
        for (const kind of spec.late ?? []) {
          events.push(kind === 'finish' ? finished : { ...started, data: { ...started.data, attempt: 2 } });
        }
        pending.set(label, await history.append(tenant.tenantId, streamIds.run(runId), ...events));
      }
      if (scenario.resetsAtMin) {
        const resets: Event[] = scenario.resetsAtMin.map((m) => ({
          type: 'FailuresReset',
          data: { endpointId, resetAt: at(m) },
        }));
        pending.set(
          'reset',
          await history.append(tenant.tenantId, streamIds.endpoint(endpointId), ...resets),
        );
      }

      const steps: Step[] = [];
      for (const label of order) {
        const envelope = pending.get(label)?.shift();
        if (!envelope) throw new Error(`no event left on stream ${label}`);
        const recounted = await projectWatched(envelope);
        const row = await runColumns(endpointId);
        expect(row).toEqual(await recomputed(endpointId));
        steps.push({
          label,
          recounted,
          row: { ...row, last_run_id: row.last_run_id && (labelOf.get(row.last_run_id) ?? row.last_run_id) },
        });
      }
      expect([...pending.values()].flat()).toEqual([]);
      return steps;
    }

    /** Arrival orders that keep each stream's own order, drawn from a fixed seed. */
    function shuffledOrders(order: readonly string[], count: number): string[][] {
      let seed = 20260302;
      const random = () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      return Array.from({ length: count }, () => {
        const bag = [...order];
        const shuffled: string[] = [];
        while (bag.length > 0) shuffled.push(...bag.splice(Math.floor(random() * bag.length), 1));
        return shuffled;
      });
    }

    const finishedAt = (startedAtMin: number, durationMs = 100) =>
      new Date(Date.parse(at(startedAtMin)) + durationMs);
    const lastRow = (steps: readonly Step[]) => steps[steps.length - 1].row;
    const recountedAt = (steps: readonly Step[]) => steps.flatMap((s, i) => (s.recounted ? [i] : []));
    /** Run by run: each run's start, then its finish. */
    const sequence = (labels: string) => [...labels].flatMap((l) => [l, l]);
    const arrival = (labels: string) => labels.split(' ');

    it('should count a streak up in order, recounting only for the first run and a success ending a streak', async () => {
      const runs: Record<string, ScenarioRun> = {
        a: { status: 'success', startedAtMin: 1 },
        b: { status: 'failed', startedAtMin: 2 },
        c: { status: 'timeout', startedAtMin: 3, trigger: 'manual' },
        d: { status: 'failed', startedAtMin: 4 },
        e: { status: 'success', startedAtMin: 5 },
        f: { status: 'failed', startedAtMin: 6 },
        g: { status: 'success', startedAtMin: 7 },
      };
      const steps = await replay({ runs }, sequence('abcdefg'));

      expect(
        steps
          .filter((_, i) => i % 2 === 1)
          .map((s) => [s.label, s.row.failure_streak, s.row.last_success_at]),
      ).toEqual([
        ['a', 0, finishedAt(1)],
        ['b', 1, finishedAt(1)],
        ['c', 2, finishedAt(1)],
        ['d', 3, finishedAt(1)],
        ['e', 0, finishedAt(5)],
        ['f', 1, finishedAt(5)],
        ['g', 0, finishedAt(7)],
      ]);
      expect(steps.map((s) => [s.row.last_run_id, s.row.last_run_status])).toEqual(
        steps.map((s, i) => [s.label, i % 2 === 0 ? 'running' : runs[s.label].status]),
      );
      // A start moves the last run and the count, never the streak or the last success.
      for (let i = 2; i < steps.length; i += 2) {
        expect([steps[i].row.failure_streak, steps[i].row.last_success_at]).toEqual([
          steps[i - 1].row.failure_streak,
          steps[i - 1].row.last_success_at,
        ]);
      }
      expect(steps.map((s) => s.row.runs_count)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
      // a's start (no last run yet), then e's and g's finishes (each may end a streak).
      expect(recountedAt(steps)).toEqual([0, 9, 13]);
    });

    it('should restart at FailuresReset, not counting a failure that finished before it or at it', async () => {
      const steps = await replay(
        {
          runs: {
            a: { status: 'failed', startedAtMin: 1 },
            b: { status: 'failed', startedAtMin: 2 },
            c: { status: 'failed', startedAtMin: 4 },
            d: { status: 'failed', startedAtMin: 5 },
            e: { status: 'failed', startedAtMin: 7, durationMs: 30_000 },
            f: { status: 'failed', startedAtMin: 8 },
          },
          resetsAtMin: [3, 5.5, 7.5],
        },
        arrival('a a b b reset c c d reset d e reset e f f'),
      );

      expect(steps.map((s) => [s.label, s.row.failure_streak])).toEqual([
        ['a', 0],
        ['a', 1],
        ['b', 1],
        ['b', 2],
        ['reset', 0],
        ['c', 0],
        ['c', 1],
        ['d', 1],
        ['reset', 0],
        ['d', 0],
        ['e', 0],
        ['reset', 0],
        ['e', 0],
        ['f', 0],
        ['f', 1],
      ]);
      // The resets recount themselves; of the runs only the first does.
      expect(recountedAt(steps)).toEqual([0, 4, 8, 11]);
    });

    it('should count trigger and retry runs in the streak and the last success, as the scheduler does', async () => {
      const steps = await replay(
        {
          runs: {
            a: { status: 'failed', startedAtMin: 1 },
            b: { status: 'success', startedAtMin: 2, trigger: 'retry' },
            c: { status: 'failed', startedAtMin: 3, trigger: 'trigger' },
            d: { status: 'success', startedAtMin: 4, trigger: 'trigger' },
            e: { status: 'timeout', startedAtMin: 5, trigger: 'manual' },
          },
        },
        sequence('abcde'),
      );

      expect(
        steps
          .filter((_, i) => i % 2 === 1)
          .map((s) => [s.label, s.row.last_run_id, s.row.failure_streak, s.row.last_success_at]),
      ).toEqual([
        ['a', 'a', 1, null],
        ['b', 'b', 0, finishedAt(2)],
        ['c', 'c', 1, finishedAt(2)],
        ['d', 'd', 0, finishedAt(4)],
        ['e', 'e', 1, finishedAt(4)],
      ]);
    });

    it('should give the in-order row when a failure arrives after a later success', async () => {
      const scenario: Scenario = {
        runs: {
          a: { status: 'failed', startedAtMin: 1 },
          b: { status: 'success', startedAtMin: 2 },
          c: { status: 'failed', startedAtMin: 3 },
        },
      };
      const inOrder = lastRow(await replay(scenario, sequence('abc')));
      expect(inOrder).toMatchObject({
        runs_count: 3,
        last_run_id: 'c',
        last_run_status: 'failed',
        last_success_at: finishedAt(2),
        failure_streak: 1,
      });
      for (const order of [sequence('bca'), sequence('cba'), sequence('bac'), arrival('a c b c b a')]) {
        expect(lastRow(await replay(scenario, order))).toEqual(inOrder);
      }
    });

    it('should give the in-order row when a later run finishes before an earlier one', async () => {
      // a starts first and finishes (fails) last, after b's success.
      const scenario: Scenario = {
        runs: {
          a: { status: 'failed', startedAtMin: 1, durationMs: 180_000 },
          b: { status: 'success', startedAtMin: 2 },
        },
      };
      const inOrder = lastRow(await replay(scenario, arrival('a b b a')));
      expect(inOrder).toMatchObject({
        last_run_id: 'b',
        last_run_status: 'success',
        last_success_at: finishedAt(2),
        failure_streak: 1,
      });
      for (const order of [arrival('a b a b'), sequence('ba'), sequence('ab'), arrival('b a b a')]) {
        expect(lastRow(await replay(scenario, order))).toEqual(inOrder);
      }
    });

    it('should keep the newer success when the newest run succeeded before an earlier one did', async () => {
      const scenario: Scenario = {
        runs: {
          a: { status: 'success', startedAtMin: 1, durationMs: 180_000 },
          b: { status: 'success', startedAtMin: 2 },
        },
      };
      const inOrder = await replay(scenario, arrival('a b b a'));
      const aFirst = await replay(scenario, arrival('a b a b'));
      expect(lastRow(inOrder)).toMatchObject({ last_run_id: 'b', last_success_at: finishedAt(1, 180_000) });
      expect(lastRow(aFirst)).toEqual(lastRow(inOrder));
      // b's finish, the newest run's, moves the row on without recounting.
      expect(recountedAt(aFirst)).toEqual([0, 2]);
    });

    it('should recount, not count twice, a run that starts or finishes again after its finish', async () => {
      const steps = await replay(
        {
          runs: {
            a: { status: 'failed', startedAtMin: 1 },
            b: { status: 'failed', startedAtMin: 2, late: ['finish', 'start'] },
          },
        },
        arrival('a a b b b b'),
      );
      expect(steps.map((s) => s.row.failure_streak)).toEqual([0, 1, 1, 2, 2, 2]);
      expect(lastRow(steps).runs_count).toBe(2);
      expect(recountedAt(steps)).toEqual([0, 4, 5]);
    });

    it('should give the same row in any arrival order', async () => {
      const scenario: Scenario = {
        runs: {
          a: { status: 'success', startedAtMin: 1 },
          // Overlaps c and d, and fails after c's success.
          b: { status: 'failed', startedAtMin: 2, durationMs: 300_000 },
          c: { status: 'success', startedAtMin: 3 },
          d: { status: 'timeout', startedAtMin: 4, trigger: 'manual' },
          e: { status: 'failed', startedAtMin: 5, trigger: 'retry' },
          f: { status: 'success', startedAtMin: 6, trigger: 'trigger' },
          g: { status: 'failed', startedAtMin: 8, restartAtMin: 8.5 },
          h: { status: 'success', startedAtMin: 9, open: true },
          // Taken over by a dispatcher whose clock is behind: its start moves before h's.
          i: { status: 'failed', startedAtMin: 9.5, restartAtMin: 8.75 },
        },
        resetsAtMin: [7.5],
      };
      // As it happened: b finishes at 7, the reset comes at 7.5, i starts after h.
      const inOrder = arrival('a a b c c d d e e f f b reset g g g h i i i');
      const expected = lastRow(await replay(scenario, inOrder));
      expect(expected).toEqual({
        runs_count: 9,
        last_run_id: 'h',
        last_run_status: 'running',
        last_run_http_status: null,
        last_run_duration_ms: null,
        last_run_started_at: new Date(at(9)),
        last_run_finished_at: null,
        last_success_at: finishedAt(6),
        failure_streak: 2,
      });

      const reversed = arrival('i i i h g g g reset f f e e d d c c b b a a');
      for (const order of [reversed, ...shuffledOrders(inOrder, 12)]) {
        expect(lastRow(await replay(scenario, order))).toEqual(expected);
      }
    }, 120_000);
  });

  describe('Hints', () => {
    it('should keep the newest hint of each kind and hide expired ones at query time', async () => {
      const { tenant, endpointId } = await givenEndpoint();
      const first = hintProposed(endpointId, 'interval', 30_000, 120);
      const oneShot = hintProposed(endpointId, 'one_shot', at(20), 30);
      const replacement = hintProposed(endpointId, 'interval', 15_000, 40, 5);
      await tenant.endpointEvent(endpointId, first, oneShot, replacement);

      const view = await getEndpoint(db.pool, tenant.tenantId, endpointId, { now: new Date(at(10)) });
      expect(view?.activeHints).toEqual([
        {
          hintId: replacement.data.hintId,
          kind: 'interval',
          value: 15_000,
          requested: null,
          expiresAt: at(40),
          reason: 'interval because',
          source: 'ai',
          model: 'gpt-test',
          proposedAt: at(5),
        },
        expect.objectContaining({ hintId: oneShot.data.hintId, kind: 'one_shot', value: at(20) }),
      ]);

      const later = await getEndpoint(db.pool, tenant.tenantId, endpointId, { now: new Date(at(35)) });
      expect(later?.activeHints.map((h) => h.kind)).toEqual(['interval']);
    });

    it('should drop every hint on AIHintsCleared', async () => {
      const { tenant, endpointId } = await givenEndpoint();
      await tenant.endpointEvent(
        endpointId,
        hintProposed(endpointId, 'pause', at(100), 100),
        hintProposed(endpointId, 'interval', 60_000, 100),
        {
          type: 'AIHintsCleared',
          data: { endpointId, reason: 'recovered', source: 'api', clearedAt: at(2) },
        },
      );
      expect((await getEndpoint(db.pool, tenant.tenantId, endpointId, { now }))?.activeHints).toEqual([]);
    });
  });

  describe('When the planner analyses the endpoint', () => {
    it('should show the last analysis and its planner mode', async () => {
      const { tenant, endpointId } = await givenEndpoint();
      const completed = analysisCompleted(endpointId, 1);
      await tenant.plannerEvent(endpointId, completed);
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        lastAnalysis: {
          analysisId: completed.data.analysisId,
          status: 'completed',
          at: at(1),
          planner: 'ai',
          model: 'gpt-test',
        },
      });

      const failed = analysisFailed(endpointId, 2);
      await tenant.plannerEvent(endpointId, failed);
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        lastAnalysis: { analysisId: failed.data.analysisId, status: 'failed', at: at(2) },
      });
    });
  });

  describe('When other streams arrive before EndpointCreated', () => {
    it('should keep what they said and show the endpoint once it is created', async () => {
      const tenant = history.tenant();
      const jobId = await tenant.job();
      const endpointId = newId('endpoint');
      const plan = nextRunPlanned(endpointId, jobId, 9, 1);
      await tenant.scheduleEvent(endpointId, plan);
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 2 });
      await tenant.plannerEvent(endpointId, analysisCompleted(endpointId, 3));
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toBeNull();
      expect((await listEndpoints(db.pool, tenant.tenantId, { now })).items).toEqual([]);

      await tenant.endpointEvent(endpointId, endpointCreated(endpointId, jobId));
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        nextRun: { runId: plan.data.runId },
        lastRun: { status: 'failed' },
        failureStreak: 1,
        runsCount: 1,
        lastAnalysis: { status: 'completed' },
      });
    });
  });

  describe('When the same events are applied twice', () => {
    it('should change nothing the second time', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      const runId = newId('run');
      const envelopes = [
        ...(await history.append(
          tenant.tenantId,
          streamIds.run(runId),
          ...runEvents(runId, endpointId, jobId, { status: 'failed', startedAtMin: 1 }),
        )),
        ...(await history.append(
          tenant.tenantId,
          streamIds.endpoint(endpointId),
          hintProposed(endpointId, 'interval', 1000, 99),
        )),
        ...(await history.append(
          tenant.tenantId,
          streamIds.schedule(endpointId),
          nextRunPlanned(endpointId, jobId, 3),
        )),
        ...(await history.append(
          tenant.tenantId,
          streamIds.planner(endpointId),
          analysisCompleted(endpointId, 2),
        )),
      ];
      expect(await history.project(envelopes)).toEqual(envelopes.map(() => true));
      const before = await snapshotReadModels(db.pool);

      expect(await history.project(envelopes)).toEqual(envelopes.map(() => false));
      expect(await snapshotReadModels(db.pool)).toEqual(before);
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        runsCount: 1,
        failureStreak: 1,
      });
    });
  });

  describe('When endpoints are listed', () => {
    it('should filter by job and status and page newest first', async () => {
      const tenant = history.tenant();
      const jobA = await tenant.job('a');
      const jobB = await tenant.job('b');
      const a1 = await tenant.endpoint(jobA, {}, 1);
      const a2 = await tenant.endpoint(jobA, {}, 2);
      const a3 = await tenant.endpoint(jobA, {}, 3);
      const b1 = await tenant.endpoint(jobB, {}, 4);
      await tenant.endpointEvent(a2, {
        type: 'EndpointPaused',
        data: { endpointId: a2, until: null, reason: null, by: 'user', pausedAt: at(5) },
      });
      await tenant.endpointEvent(a3, {
        type: 'EndpointArchived',
        data: { endpointId: a3, archivedAt: at(6) },
      });

      const all = await listEndpoints(db.pool, tenant.tenantId, { now });
      expect(all.items.map((e) => e.id)).toEqual([b1, a2, a1]);

      const first = await listEndpoints(db.pool, tenant.tenantId, { jobId: jobA, limit: 1, now });
      expect(first.items.map((e) => e.id)).toEqual([a2]);
      const second = await listEndpoints(db.pool, tenant.tenantId, {
        jobId: jobA,
        limit: 1,
        cursor: first.nextCursor,
        now,
      });
      expect(second.items.map((e) => e.id)).toEqual([a1]);
      expect(second.nextCursor).toBeNull();

      expect(
        (await listEndpoints(db.pool, tenant.tenantId, { status: 'paused', now })).items.map((e) => e.id),
      ).toEqual([a2]);
      expect(
        (await listEndpoints(db.pool, tenant.tenantId, { status: 'archived', now })).items.map((e) => e.id),
      ).toEqual([a3]);
      expect((await listEndpoints(db.pool, history.tenant().tenantId, { jobId: jobA, now })).items).toEqual(
        [],
      );
    });
  });
});
