import { streamIds } from '@cronicorn/events';
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
  snapshotReadModels,
  TenantHistory,
} from '../../test/fixtures';
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
      });

      await tenant.jobEvent(jobId, { type: 'JobArchived', data: { jobId, archivedAt: at(2) } });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        jobPaused: false,
        effectiveStatus: 'archived',
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
      });
    });
  });

  describe('Failure streak', () => {
    it('should count consecutive failed and timed-out schedule and manual runs', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      await tenant.run(endpointId, jobId, { status: 'success', startedAtMin: 1 });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 2 });
      await tenant.run(endpointId, jobId, { status: 'timeout', startedAtMin: 3, trigger: 'manual' });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 4, trigger: 'retry' });
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 5, trigger: 'trigger' });

      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        failureStreak: 2,
        lastSuccessAt: expect.stringMatching(/^2026-03-02T10:01:00/),
      });
    });

    it('should end with a success, but not with a successful retry', async () => {
      const { tenant, jobId, endpointId } = await givenEndpoint();
      await tenant.run(endpointId, jobId, { status: 'failed', startedAtMin: 1 });
      await tenant.run(endpointId, jobId, { status: 'success', startedAtMin: 2, trigger: 'retry' });
      expect(await getEndpoint(db.pool, tenant.tenantId, endpointId, { now })).toMatchObject({
        failureStreak: 1,
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
