import { streamIds } from '@cronicorn/events';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { at, endpointCreated, History, newId, snapshotReadModels } from '../../test/fixtures';
import { InvalidCursorError } from '../pagination';
import { getJob, listJobs } from './jobs.queries';

jest.setTimeout(30_000);

describe('Jobs read model', () => {
  let db: TestDatabase;
  let history: History;

  beforeAll(async () => {
    db = await createTestDatabase();
    history = new History(db.pool);
  });
  afterAll(() => db.drop());

  const now = new Date(at(60));

  describe('When a job is created', () => {
    it('should show it to its tenant and to nobody else', async () => {
      const tenant = history.tenant();
      const jobId = await tenant.job('nightly', 5);

      expect(await getJob(db.pool, tenant.tenantId, jobId, { now })).toEqual({
        id: jobId,
        tenantId: tenant.tenantId,
        name: 'nightly',
        description: null,
        status: 'active',
        pause: null,
        endpointCount: 0,
        archivedEndpointCount: 0,
        createdAt: at(5),
        updatedAt: at(5),
        archivedAt: null,
      });
      expect(await getJob(db.pool, history.tenant().tenantId, jobId, { now })).toBeNull();
      expect(await getJob(db.pool, tenant.tenantId, newId('job'), { now })).toBeNull();
    });
  });

  describe('When a job is updated', () => {
    it('should change only the fields the event names, clearing a description set to null', async () => {
      const tenant = history.tenant();
      const jobId = await tenant.job('before');
      await tenant.jobEvent(jobId, {
        type: 'JobUpdated',
        data: { jobId, changes: { description: 'hello' }, updatedAt: at(1) },
      });
      await tenant.jobEvent(jobId, {
        type: 'JobUpdated',
        data: { jobId, changes: { name: 'after' }, updatedAt: at(2) },
      });
      expect(await getJob(db.pool, tenant.tenantId, jobId, { now })).toMatchObject({
        name: 'after',
        description: 'hello',
        updatedAt: at(2),
      });

      await tenant.jobEvent(jobId, {
        type: 'JobUpdated',
        data: { jobId, changes: { description: null }, updatedAt: at(3) },
      });
      expect(await getJob(db.pool, tenant.tenantId, jobId, { now })).toMatchObject({
        name: 'after',
        description: null,
      });
    });
  });

  describe('When a job is paused', () => {
    it('should read as paused until its end, then as active', async () => {
      const tenant = history.tenant();
      const jobId = await tenant.job();
      await tenant.jobEvent(jobId, {
        type: 'JobPaused',
        data: { jobId, until: at(30), reason: 'maintenance', pausedAt: at(10) },
      });

      expect(await getJob(db.pool, tenant.tenantId, jobId, { now: new Date(at(20)) })).toMatchObject({
        status: 'paused',
        pause: { until: at(30), reason: 'maintenance', pausedAt: at(10) },
      });
      expect(await getJob(db.pool, tenant.tenantId, jobId, { now: new Date(at(31)) })).toMatchObject({
        status: 'active',
        pause: null,
      });
    });

    it('should be active again after JobResumed and stay archived after JobArchived', async () => {
      const tenant = history.tenant();
      const jobId = await tenant.job();
      await tenant.jobEvent(
        jobId,
        { type: 'JobPaused', data: { jobId, until: null, reason: null, pausedAt: at(1) } },
        { type: 'JobResumed', data: { jobId, resumedAt: at(2) } },
      );
      expect(await getJob(db.pool, tenant.tenantId, jobId, { now })).toMatchObject({
        status: 'active',
        pause: null,
      });

      await tenant.jobEvent(
        jobId,
        { type: 'JobArchived', data: { jobId, archivedAt: at(3) } },
        { type: 'JobPaused', data: { jobId, until: null, reason: null, pausedAt: at(4) } },
      );
      expect(await getJob(db.pool, tenant.tenantId, jobId, { now })).toMatchObject({
        status: 'archived',
        archivedAt: at(3),
        pause: null,
      });
    });
  });

  describe('When endpoints are added and archived', () => {
    it('should count the live and archived endpoints of the job', async () => {
      const tenant = history.tenant();
      const jobId = await tenant.job();
      const [a] = [await tenant.endpoint(jobId), await tenant.endpoint(jobId), await tenant.endpoint(jobId)];
      await tenant.endpointEvent(a, { type: 'EndpointArchived', data: { endpointId: a, archivedAt: at(5) } });

      expect(await getJob(db.pool, tenant.tenantId, jobId, { now })).toMatchObject({
        endpointCount: 2,
        archivedEndpointCount: 1,
      });
    });

    it('should count an endpoint whose EndpointCreated was projected before its JobCreated', async () => {
      const tenant = history.tenant();
      const jobId = newId('job');
      const endpointId = newId('endpoint');
      await tenant.endpointEvent(endpointId, endpointCreated(endpointId, jobId));
      await tenant.jobEvent(jobId, {
        type: 'JobCreated',
        data: { jobId, name: 'late', description: null, createdAt: at(0) },
      });

      expect(await getJob(db.pool, tenant.tenantId, jobId, { now })).toMatchObject({ endpointCount: 1 });
    });
  });

  describe('When the same event is applied twice', () => {
    it('should change nothing the second time', async () => {
      const tenant = history.tenant();
      const jobId = await tenant.job();
      const envelopes = await history.append(tenant.tenantId, streamIds.job(jobId), {
        type: 'JobPaused',
        data: { jobId, until: null, reason: 'x', pausedAt: at(1) },
      });
      expect(await history.project(envelopes)).toEqual([true]);
      const before = await snapshotReadModels(db.pool);

      expect(await history.project(envelopes)).toEqual([false]);
      expect(await snapshotReadModels(db.pool)).toEqual(before);
    });
  });

  describe('When jobs are listed', () => {
    it('should page newest first with an opaque cursor and leave archived jobs out by default', async () => {
      const tenant = history.tenant();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await tenant.job(`job ${i}`, i));
      await tenant.jobEvent(ids[4], { type: 'JobArchived', data: { jobId: ids[4], archivedAt: at(10) } });

      const first = await listJobs(db.pool, tenant.tenantId, { limit: 2, now });
      expect(first.items.map((j) => j.id)).toEqual([ids[3], ids[2]]);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await listJobs(db.pool, tenant.tenantId, { limit: 2, cursor: first.nextCursor, now });
      expect(second.items.map((j) => j.id)).toEqual([ids[1], ids[0]]);
      expect(second.nextCursor).toBeNull();

      const archived = await listJobs(db.pool, tenant.tenantId, { status: 'archived', now });
      expect(archived.items.map((j) => j.id)).toEqual([ids[4]]);
      const all = await listJobs(db.pool, tenant.tenantId, { includeArchived: true, now });
      expect(all.items).toHaveLength(5);
    });

    it('should filter by status at query time and reject a forged cursor', async () => {
      const tenant = history.tenant();
      const active = await tenant.job('a');
      const paused = await tenant.job('p', 1);
      await tenant.jobEvent(paused, {
        type: 'JobPaused',
        data: { jobId: paused, until: at(100), reason: null, pausedAt: at(2) },
      });

      const pausedNow = await listJobs(db.pool, tenant.tenantId, { status: 'paused', now });
      expect(pausedNow.items.map((j) => j.id)).toEqual([paused]);
      const activeLater = await listJobs(db.pool, tenant.tenantId, {
        status: 'active',
        now: new Date(at(101)),
      });
      expect(activeLater.items.map((j) => j.id)).toEqual([paused, active]);

      await expect(listJobs(db.pool, tenant.tenantId, { cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(
        InvalidCursorError,
      );
    });
  });
});
