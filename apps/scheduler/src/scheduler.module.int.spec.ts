import { randomUUID } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { DispatchWorkItem, streamIds } from '@cronicorn/events';
import { endpointConfigWithDefaults } from '@cronicorn/domain';
import { PostgresEventStore } from '@cronicorn/event-store';
import { loadConfig } from '@cronicorn/platform';
import { createTestDatabase, createTestNats, TestDatabase, TestNats } from '@cronicorn/testing';
import { SchedulerModule } from './scheduler.module';
import { SchedulerService } from './scheduler.service';

jest.setTimeout(60_000);

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('SchedulerModule', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let app: INestApplication;

  beforeAll(async () => {
    db = await createTestDatabase();
    nats = await createTestNats();
    const config = loadConfig('scheduler', {
      DATABASE_URL: db.url,
      NATS_URL: nats.url,
      CRONICORN_NATS_NAMESPACE: nats.names.namespace,
      LOG_LEVEL: 'silent',
    });
    const moduleRef = await Test.createTestingModule({
      imports: [SchedulerModule.forRoot({ core: { config }, scheduler: { sweepIntervalMs: 500 } })],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await nats.cleanup();
    await db.drop();
  });

  it('should run a replica that hands due runs to the dispatch queue, count them, and give its leases back on shutdown', async () => {
    const store = new PostgresEventStore(db.pool);
    const tenantId = randomUUID();
    const jobId = randomUUID();
    const endpointId = randomUUID();
    const metadata = { tenantId, actor: 'test' };
    const now = new Date().toISOString();
    await store.append(
      streamIds.job(jobId),
      [{ type: 'JobCreated', data: { jobId, name: 'job', description: null, createdAt: now } }],
      { expectedVersion: 0, metadata },
    );
    const config = endpointConfigWithDefaults({
      name: 'hourly',
      url: 'https://example.com/',
      schedule: { kind: 'interval', intervalMs: 3_600_000 },
    });
    await store.append(
      streamIds.endpoint(endpointId),
      [{ type: 'EndpointCreated', data: { endpointId, jobId, config, createdAt: now } }],
      { expectedVersion: 0, metadata },
    );

    const subject = nats.names.dispatchSubject(tenantId, endpointId);
    let item: DispatchWorkItem | null = null;
    await waitFor(async () => {
      const message = await nats.jsm.streams
        .getMessage(nats.names.dispatchStream, { last_by_subj: subject })
        .catch(() => null);
      item = message ? message.json<DispatchWorkItem>() : null;
      return item !== null;
    }, 'the work item on the dispatch stream');
    expect(item).toMatchObject({
      endpointId,
      jobId,
      tenantId,
      trigger: 'schedule',
      request: { url: 'https://example.com/' },
    });

    // The counter moves once the publish is recorded, a moment after the message lands.
    const dispatched = /^cronicorn_scheduler_runs_dispatched_total\{trigger="schedule",app="scheduler"\} 1$/m;
    let metrics = '';
    await waitFor(async () => {
      metrics = (await request(app.getHttpServer()).get('/metrics')).text;
      return dispatched.test(metrics);
    }, 'the dispatch counted');
    expect(metrics).toMatch(/^cronicorn_scheduler_plans_total\{app="scheduler"\} [1-9]/m);
    expect(metrics).toMatch(/^cronicorn_scheduler_dispatch_lateness_seconds_count\{app="scheduler"\} 1$/m);
    expect(app.get(SchedulerService).scheduler).not.toBeNull();

    await db.pool.query(
      `UPDATE scheduler_endpoints SET next_run_at = now() + interval '1 second', lease_owner = NULL, lease_until = NULL`,
    );
    await waitFor(
      async () =>
        (await db.pool.query('SELECT 1 FROM scheduler_endpoints WHERE lease_owner IS NOT NULL')).rowCount ===
        1,
      'a lease on the moved plan',
    );
    await app.close();
    const { rows } = await db.pool.query('SELECT lease_owner FROM scheduler_endpoints');
    expect(rows).toEqual([{ lease_owner: null }]);
  });
});
