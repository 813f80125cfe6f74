import { streamIds } from '@cronicorn/events';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { at, History, newId, runEvents } from '../../test/fixtures';
import { getRun, listRuns } from './runs.queries';

jest.setTimeout(30_000);

describe('Runs read model', () => {
  let db: TestDatabase;
  let history: History;

  beforeAll(async () => {
    db = await createTestDatabase();
    history = new History(db.pool);
  });
  afterAll(() => db.drop());

  describe('When a run starts and finishes', () => {
    it('should show it running, then with its outcome and response', async () => {
      const tenant = history.tenant();
      const [jobId, endpointId, runId] = [newId('job'), newId('endpoint'), newId('run')];
      const [started, finished] = runEvents(runId, endpointId, jobId, {
        status: 'timeout',
        startedAtMin: 10,
        lateMs: 1_500,
        durationMs: 10_000,
        trigger: 'retry',
        retryOf: 'run-original',
        httpStatus: null,
      });
      await history.given(tenant.tenantId, streamIds.run(runId), started);

      expect(await getRun(db.pool, tenant.tenantId, runId)).toEqual({
        id: runId,
        tenantId: tenant.tenantId,
        endpointId,
        jobId,
        status: 'running',
        trigger: 'retry',
        retryOf: 'run-original',
        scheduledFor: started.data.scheduledFor,
        startedAt: at(10),
        finishedAt: null,
        lateMs: 1_500,
        durationMs: null,
        httpStatus: null,
        attempts: null,
        attempt: 1,
        error: null,
        response: null,
        retryAfterMs: null,
        templateUnresolved: null,
      });

      await history.given(tenant.tenantId, streamIds.run(runId), finished);
      expect(await getRun(db.pool, tenant.tenantId, runId)).toMatchObject({
        status: 'timeout',
        finishedAt: finished.data.finishedAt,
        durationMs: 10_000,
        attempts: 1,
        error: 'target answered timeout',
        response: { snippet: '{"ok":true}', bytes: 11, truncated: false, contentType: 'application/json' },
      });
      expect(await getRun(db.pool, history.tenant().tenantId, runId)).toBeNull();
    });

    it("should show the body template's placeholders the run could not fill", async () => {
      const tenant = history.tenant();
      const [jobId, endpointId, runId] = [newId('job'), newId('endpoint'), newId('run')];
      const [started, finished] = runEvents(runId, endpointId, jobId, {
        status: 'success',
        startedAtMin: 10,
      });
      const unresolved = ['trigger.payload.nope', 'previousRun.response.json.cursor'];
      await history.given(tenant.tenantId, streamIds.run(runId), started, {
        ...finished,
        data: { ...finished.data, templateUnresolved: unresolved },
      });

      expect(await getRun(db.pool, tenant.tenantId, runId)).toMatchObject({
        status: 'success',
        templateUnresolved: unresolved,
      });
    });

    it('should move attempt and start on a redelivery to another dispatcher', async () => {
      const tenant = history.tenant();
      const [jobId, endpointId, runId] = [newId('job'), newId('endpoint'), newId('run')];
      const [started] = runEvents(runId, endpointId, jobId, { status: 'success', startedAtMin: 1 });
      const again = { ...started, data: { ...started.data, attempt: 2, startedAt: at(2), lateMs: 60_000 } };
      await history.given(tenant.tenantId, streamIds.run(runId), started, again);

      expect(await getRun(db.pool, tenant.tenantId, runId)).toMatchObject({
        status: 'running',
        attempt: 2,
        startedAt: at(2),
        lateMs: 60_000,
      });
    });
  });

  describe('When runs are listed', () => {
    it('should page an endpoint runs newest first, filter by status and stay within the tenant', async () => {
      const tenant = history.tenant();
      const jobId = await tenant.job();
      const endpointId = await tenant.endpoint(jobId);
      const other = await tenant.endpoint(jobId);
      const statuses = ['success', 'failed', 'success', 'timeout', 'success'] as const;
      const ids: string[] = [];
      for (const [i, status] of statuses.entries()) {
        ids.push(await tenant.run(endpointId, jobId, { status, startedAtMin: i }));
      }
      await tenant.run(other, jobId, { status: 'success', startedAtMin: 9 });

      const first = await listRuns(db.pool, tenant.tenantId, endpointId, { limit: 3 });
      expect(first.items.map((r) => r.id)).toEqual([ids[4], ids[3], ids[2]]);
      const second = await listRuns(db.pool, tenant.tenantId, endpointId, {
        limit: 3,
        cursor: first.nextCursor,
      });
      expect(second.items.map((r) => r.id)).toEqual([ids[1], ids[0]]);
      expect(second.nextCursor).toBeNull();

      const successes = await listRuns(db.pool, tenant.tenantId, endpointId, { status: 'success', limit: 2 });
      expect(successes.items.map((r) => r.id)).toEqual([ids[4], ids[2]]);
      const rest = await listRuns(db.pool, tenant.tenantId, endpointId, {
        status: 'success',
        cursor: successes.nextCursor,
      });
      expect(rest.items.map((r) => r.id)).toEqual([ids[0]]);

      expect((await listRuns(db.pool, history.tenant().tenantId, endpointId)).items).toEqual([]);
    });

    it('should list every run once while redeliveries move starts between pages', async () => {
      const tenant = history.tenant();
      const jobId = await tenant.job();
      const endpointId = await tenant.endpoint(jobId);
      const ids = [newId('run'), newId('run'), newId('run'), newId('run')];
      const events = ids.map((id, i) =>
        runEvents(id, endpointId, jobId, { status: 'success', startedAtMin: i + 1 }),
      );
      const startedAt = (i: number, minute: number, attempt: number) => ({
        ...events[i][0],
        data: { ...events[i][0].data, startedAt: at(minute), attempt },
      });
      for (const i of [0, 1, 2]) await history.given(tenant.tenantId, streamIds.run(ids[i]), events[i][0]);
      // The newest run was first delivered before the others, then redelivered.
      await history.given(tenant.tenantId, streamIds.run(ids[3]), startedAt(3, 0, 1), startedAt(3, 4, 2));

      const seen: string[] = [];
      let page = await listRuns(db.pool, tenant.tenantId, endpointId, { limit: 2 });
      seen.push(...page.items.map((r) => r.id));
      // The oldest run is redelivered: it starts again after every run shown so far.
      await history.given(tenant.tenantId, streamIds.run(ids[0]), startedAt(0, 9, 2));
      // The first delivery of the redelivered run finishes it: its start goes back to that one.
      await history.given(tenant.tenantId, streamIds.run(ids[3]), {
        ...events[3][1],
        data: { ...events[3][1].data, startedAt: at(0) },
      });
      while (page.nextCursor) {
        page = await listRuns(db.pool, tenant.tenantId, endpointId, { limit: 2, cursor: page.nextCursor });
        seen.push(...page.items.map((r) => r.id));
      }

      expect([...seen].sort()).toEqual([...ids].sort());
    });
  });
});
