import { AckPolicy } from '@nats-io/jetstream';
import { randomBytes, randomUUID } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import request from 'supertest';
import { EventStore } from '@cronicorn/event-store';
import { createTestNats, TcpProxy, TestNats } from '@cronicorn/testing';
import { loadConfig } from '../config';
import { CoreModule } from './core.module';
import { EVENT_STORE } from './tokens';

const ADMIN_DB_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

// Hooks start and stop whole apps and create databases; a loaded CI machine needs more than 5 s.
jest.setTimeout(60_000);

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function dropDatabase(name: string): Promise<void> {
  const admin = new Client({ connectionString: ADMIN_DB_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
}

describe('CoreModule', () => {
  let nats: TestNats;
  let proxy: TcpProxy;
  const databases: string[] = [];
  const apps: INestApplication[] = [];

  async function startApp(options: { pauseFirst?: boolean } = {}): Promise<INestApplication> {
    const database = `cronicorn_test_${randomBytes(6).toString('hex')}`;
    databases.push(database);
    if (options.pauseFirst) await proxy.pause();
    const config = loadConfig('projector', {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${database}`,
      NATS_URL: nats.url,
      CRONICORN_NATS_NAMESPACE: nats.names.namespace,
      LOG_LEVEL: 'silent',
    });
    const moduleRef = await Test.createTestingModule({
      imports: [CoreModule.forRoot('projector', { config })],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    return app;
  }

  const readyz = async (app: INestApplication) => request(app.getHttpServer()).get('/readyz');

  beforeAll(async () => {
    nats = await createTestNats();
  });

  beforeEach(async () => {
    proxy = await TcpProxy.start(5432);
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await proxy.close();
  });

  afterAll(async () => {
    await nats.cleanup();
    for (const database of databases) await dropDatabase(database);
  });

  it('creates and migrates its database, then reports ready, healthy and its metrics', async () => {
    const app = await startApp();
    await waitFor('ready', async () => (await readyz(app)).status === 200);
    expect((await readyz(app)).body).toEqual({
      status: 'ok',
      checks: { postgres: { ok: true }, nats: { ok: true } },
    });

    const health = await request(app.getHttpServer()).get('/healthz').set('x-correlation-id', 'corr-42');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok', app: 'projector' });
    expect(health.headers['x-correlation-id']).toBe('corr-42');

    const metrics = await request(app.getHttpServer()).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^cronicorn_process_cpu_user_seconds_total\{app="projector"\} /m);
    expect(metrics.text).toContain(
      'cronicorn_http_request_duration_seconds_count{app="projector",method="GET",route="/healthz",status="200"} 1',
    );
  });

  it('says 503 while Postgres is away and recovers when it is back', async () => {
    const app = await startApp();
    await waitFor('ready', async () => (await readyz(app)).status === 200);

    await proxy.pause();
    const down = await readyz(app);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      status: 'unavailable',
      checks: { postgres: { ok: false }, nats: { ok: true } },
    });
    expect((await request(app.getHttpServer()).get('/healthz')).status).toBe(200);

    await proxy.resume();
    await waitFor('ready again', async () => (await readyz(app)).status === 200);
  });

  it('starts without Postgres, keeps retrying in the background, and becomes ready once it appears', async () => {
    const app = await startApp({ pauseFirst: true });
    expect((await request(app.getHttpServer()).get('/healthz')).status).toBe(200);
    const down = await readyz(app);
    expect(down.status).toBe(503);
    expect(down.body.checks.postgres.ok).toBe(false);

    await proxy.resume();
    await waitFor('ready', async () => (await readyz(app)).status === 200);
  });

  it('publishes appended events to JetStream through its outbox relay', async () => {
    const app = await startApp();
    await waitFor('ready', async () => (await readyz(app)).status === 200);
    const tenantId = randomUUID();
    const store = app.get<EventStore>(EVENT_STORE);
    const { envelopes } = await store.append(
      `tenant-${tenantId}`,
      [{ type: 'TenantCreated', data: { tenantId, name: 'relay check' } }],
      { expectedVersion: 0, metadata: { tenantId, actor: 'test' } },
    );
    const subject = nats.names.eventSubject(tenantId, 'tenant', 'TenantCreated');
    let received: { id?: string } = {};
    await waitFor('the event on JetStream', async () => {
      const message = await nats.jsm.streams
        .getMessage(nats.names.eventsStream, { last_by_subj: subject })
        .catch(() => null);
      if (message) received = message.json();
      return message !== null;
    });
    expect(received.id).toBe(envelopes[0].id);

    await nats.jsm.consumers.add(nats.names.eventsStream, {
      durable_name: 'lag-probe',
      ack_policy: AckPolicy.Explicit,
    });
    const metrics = (await request(app.getHttpServer()).get('/metrics')).text;
    expect(metrics).toMatch(
      /^cronicorn_events_appended_total\{category="tenant",type="TenantCreated",app="projector"\} 1$/m,
    );
    expect(metrics).toMatch(
      new RegExp(
        `^cronicorn_consumer_pending_messages\\{stream="${nats.names.eventsStream}",consumer="lag-probe",app="projector"\\} [1-9]`,
        'm',
      ),
    );
  });
});
