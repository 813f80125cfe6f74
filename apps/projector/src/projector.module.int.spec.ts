import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { streamIds } from '@cronicorn/events';
import { PostgresEventStore } from '@cronicorn/event-store';
import { METRICS_REGISTRY } from '@cronicorn/platform';
import { getJob, tryProjectorLock, waitForPosition } from '@cronicorn/read-models';
import { createTestDatabase, createTestNats, TestDatabase, TestNats } from '@cronicorn/testing';
import type { Registry } from 'prom-client';
import { at, newId } from '../../../libs/read-models/test/fixtures';
import { ProjectorModule } from './projector.module';
import { ProjectorService } from './projector.service';

jest.setTimeout(60_000);

describe('ProjectorModule', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let app: INestApplication | null = null;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    db = await createTestDatabase();
    nats = await createTestNats();
    Object.assign(process.env, {
      DATABASE_URL: db.url,
      NATS_URL: nats.url,
      CRONICORN_NATS_NAMESPACE: nats.names.namespace,
      LOG_LEVEL: 'silent',
    });
  });
  afterAll(async () => {
    await app?.close();
    process.env = savedEnv;
    await nats.cleanup();
    await db.drop();
  });

  describe('When the app starts', () => {
    it('should project appended events, expose its lag and stop cleanly, releasing the lock', async () => {
      const moduleRef = await Test.createTestingModule({ imports: [ProjectorModule] }).compile();
      app = moduleRef.createNestApplication({ logger: false });
      await app.init();

      const tenantId = newId('tenant');
      const jobId = newId('job');
      const { lastPosition } = await new PostgresEventStore(db.pool).append(
        streamIds.job(jobId),
        [{ type: 'JobCreated', data: { jobId, name: 'wired', description: null, createdAt: at(0) } }],
        { expectedVersion: 0, metadata: { tenantId } },
      );
      expect(await waitForPosition(db.pool, lastPosition, 30_000)).toBe(true);
      expect(await getJob(db.pool, tenantId, jobId)).toMatchObject({ name: 'wired' });

      const metrics = await app.get<Registry>(METRICS_REGISTRY).metrics();
      expect(metrics).toMatch(/^cronicorn_projector_lag_seconds\{app="projector"\} \d/m);
      expect(metrics).toMatch(/^cronicorn_projector_active\{app="projector"\} 1$/m);
      expect(metrics).toMatch(/^cronicorn_projector_events_total\{app="projector"\} 1$/m);

      const service = app.get(ProjectorService);
      await app.close();
      app = null;
      expect(service.runner.isActive).toBe(false);
      const client = await db.pool.connect();
      try {
        expect(await tryProjectorLock(client)).toBe(true);
      } finally {
        client.release(true);
      }
    });
  });
});
