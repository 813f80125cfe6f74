import { randomUUID } from 'node:crypto';
import type { Subscription } from '@nats-io/nats-core';
import { PostgresEventStore } from '@cronicorn/event-store';
import type { EventEnvelope } from '@cronicorn/events';
import { silentLogger } from '@cronicorn/messaging';
import { ProjectorRunner } from '../../projector/src/projector.runner';
import { startApi, TestApi } from './harness';
import { JsonResponse, request } from './http';

// Jobs, endpoints and runs end to end: the real command-api on its own database and NATS
// namespace, with a projector filling the read models the GETs serve.

type Body = Record<string, unknown>;

interface Answer extends Body {
  id: string;
  position: string | null;
}

const SECRET = 'Bearer s3cret-value-that-must-never-leak';

let api: TestApi;
let stopProjector: () => Promise<void>;
let tenantA: { tenantId: string; apiKey: string };
let tenantB: { tenantId: string; apiKey: string };

beforeAll(async () => {
  // Rate limits off: the tables below send hundreds of requests with one key.
  api = await startApi({ env: { API_RATE_LIMIT_PER_SECOND: '0' } });
  stopProjector = await startProjectorFor(api);
  tenantA = await api.createTenant('Tenant A');
  tenantB = await api.createTenant('Tenant B');
}, 60_000);

afterAll(async () => {
  await stopProjector?.();
  await api?.close();
});

/** The projector's runner on the API's database and NATS namespace: it fills the read models. */
async function startProjectorFor(target: TestApi): Promise<() => Promise<void>> {
  const runner = new ProjectorRunner({
    pool: target.db.pool,
    store: new PostgresEventStore(target.db.pool),
    logger: silentLogger,
  });
  runner.start();
  return () => runner.stop();
}

const call = <T = Body>(method: string, path: string, options: Parameters<typeof request>[3] = {}) =>
  request<T>(api.url, method, path, options);

/** A tenant-A request. */
const asA = <T = Body>(method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  call<T>(method, path, { apiKey: tenantA.apiKey, body, headers });

/** A tenant-A read that waits for the read models to include `position`. */
const readA = <T = Body>(path: string, position: string | null) =>
  call<T>('GET', path, { apiKey: tenantA.apiKey, headers: position ? { 'x-min-position': position } : {} });

function expectStatus<T>(res: JsonResponse<T>, status: number): T {
  if (res.status !== status)
    throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

async function eventCount(tenantId: string): Promise<number> {
  const { rows } = await api.db.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM events WHERE tenant_id = $1',
    [tenantId],
  );
  return Number(rows[0].n);
}

/**
 * The stream's events from `GET /v1/events`, once the log shows the write at `position`. The
 * log is read in commit order below the oldest open transaction, so a write can take a moment.
 */
async function eventsOf(streamId: string, position: string | null): Promise<EventEnvelope[]> {
  let events: EventEnvelope[] = [];
  await eventually(async () => {
    const res = await asA<{ events: EventEnvelope[] }>('GET', `/v1/events?streamId=${streamId}&limit=500`);
    events = expectStatus(res, 200).events;
    expect(events.some((e) => BigInt(e.position) >= BigInt(position ?? '0'))).toBe(true);
  });
  return events;
}

async function createJob(name = `job-${randomUUID().slice(0, 8)}`): Promise<Answer> {
  return expectStatus(await asA<Answer>('POST', '/v1/jobs', { name }), 201);
}

const endpointBody = (overrides: Body = {}): Body => ({
  name: 'Send dunning e-mails',
  description: 'Overdue invoices',
  url: 'https://billing.example.com/hooks/dunning',
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-team': 'billing' },
  secretHeaders: { authorization: SECRET },
  body: { mode: 'overdue', nested: [1, 'two', { three: null }] },
  timeoutMs: 10_000,
  cron: '0 9 * * 1-5',
  timezone: 'Europe/Berlin',
  minIntervalMs: 60_000,
  maxIntervalMs: 3_600_000,
  maxAttempts: 3,
  jitterMs: 1_000,
  catchUp: 'skip',
  overlap: 'queue_one',
  pauseAfterFailures: 5,
  triggers: ['invoice.created', 'deploy-finished'],
  ...overrides,
});

async function createEndpoint(jobId: string, overrides: Body = {}): Promise<Answer> {
  return expectStatus(await asA<Answer>('POST', `/v1/jobs/${jobId}/endpoints`, endpointBody(overrides)), 201);
}

/** Waits until `check` passes, at most `timeoutMs`; rethrows its last failure. */
async function eventually(check: () => void | Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

describe('Resources (jobs, endpoints, runs)', () => {
  describe('When a tenant sets up a job with an endpoint and changes it', () => {
    let job: Answer;
    let endpoint: Answer;
    let subscription: Subscription;
    const received: { subject: string; envelope: EventEnvelope }[] = [];
    const writes: Answer[] = [];
    let createdAt: string;

    beforeAll(async () => {
      subscription = api.nats.nc.subscribe(`${api.nats.names.eventsSubjectPrefix}.${tenantA.tenantId}.>`, {
        callback: (error, msg) => {
          if (!error) received.push({ subject: msg.subject, envelope: msg.json<EventEnvelope>() });
        },
      });
      await api.nats.nc.flush();

      job = await createJob('Nightly billing');
      endpoint = await createEndpoint(job.id);
      [createdAt] = (await eventsOf(`endpoint-${endpoint.id}`, endpoint.position)).map((e) => e.occurredAt);
      // The replay below asks for the state 1 ms after creation: the update must come later.
      await eventually(() => expect(Date.now()).toBeGreaterThan(Date.parse(createdAt) + 2));
      writes.push(
        expectStatus(
          await asA<Answer>('PATCH', `/v1/endpoints/${endpoint.id}`, {
            name: 'Send dunning e-mails (EU)',
            intervalMs: 120_000,
            maxRuns: null,
            headers: { 'x-team': 'billing-eu' },
          }),
          202,
        ),
      );
      writes.push(
        expectStatus(
          await asA<Answer>('POST', `/v1/endpoints/${endpoint.id}/pause`, {
            until: '2099-01-01T00:00:00+01:00',
            reason: 'maintenance',
          }),
          202,
        ),
      );
      writes.push(expectStatus(await asA<Answer>('POST', `/v1/endpoints/${endpoint.id}/resume`), 202));
    }, 30_000);

    afterAll(() => subscription?.unsubscribe());

    it('should answer writes with the id and the position of the event', () => {
      expect(job).toMatchObject({
        id: expect.any(String),
        jobId: job.id,
        position: expect.stringMatching(/^\d+$/),
      });
      expect(endpoint).toMatchObject({ endpointId: endpoint.id, position: expect.stringMatching(/^\d+$/) });
      for (const write of writes)
        expect(BigInt(write.position as string)).toBeGreaterThan(BigInt(endpoint.position!));
    });

    it('should read the job and the endpoint back, secret headers by name only', async () => {
      const last = writes[writes.length - 1].position;
      const readJob = expectStatus(await readA(`/v1/jobs/${job.id}`, last), 200);
      expect(readJob).toMatchObject({
        id: job.id,
        name: 'Nightly billing',
        status: 'active',
        endpointCount: 1,
      });

      const res = await readA(`/v1/endpoints/${endpoint.id}`, last);
      const read = expectStatus(res, 200);
      expect(res.headers.get('x-read-model-lagging')).toBeNull();
      expect(read).toMatchObject({
        id: endpoint.id,
        jobId: job.id,
        status: 'active',
        failureStreak: 0,
        activeHints: [],
        // No scheduler or dispatcher runs in this suite: nothing is planned, nothing ran.
        nextRunAt: null,
        nextRunReason: null,
        lastRun: null,
        config: {
          name: 'Send dunning e-mails (EU)',
          method: 'POST',
          headers: { 'x-team': 'billing-eu' },
          secretHeaderNames: ['authorization'],
          schedule: { kind: 'interval', intervalMs: 120_000 },
          body: { mode: 'overdue', nested: [1, 'two', { three: null }] },
          triggers: ['invoice.created', 'deploy-finished'],
        },
      });
      expect(JSON.stringify(read)).not.toContain('s3cret');
    });

    it('should show the events in order in /v1/events, with the secret encrypted', async () => {
      const events = await eventsOf(`endpoint-${endpoint.id}`, writes[writes.length - 1].position);
      expect(events.map((e) => e.type)).toEqual([
        'EndpointCreated',
        'EndpointUpdated',
        'EndpointPaused',
        'EndpointResumed',
      ]);
      expect(events.map((e) => e.position)).toEqual([endpoint.position, ...writes.map((w) => w.position)]);
      expect(JSON.stringify(events)).not.toContain('s3cret');
      const created = events[0].data as { config: { secretHeaders: Record<string, string> } };
      expect(created.config.secretHeaders.authorization).toMatch(/^enc:v1:/);
      const jobEvents = await eventsOf(`job-${job.id}`, job.position);
      expect(jobEvents.map((e) => e.type)).toEqual(['JobCreated']);
    });

    it('should publish every event on NATS under its tenant subject', async () => {
      const stored = [
        ...(await eventsOf(`job-${job.id}`, job.position)),
        ...(await eventsOf(`endpoint-${endpoint.id}`, writes[writes.length - 1].position)),
      ];
      await eventually(() => {
        const ids = new Set(received.map((m) => m.envelope.id));
        expect(stored.filter((e) => !ids.has(e.id))).toEqual([]);
      });
      const prefix = api.nats.names.eventsSubjectPrefix;
      for (const event of stored) {
        const message = received.find((m) => m.envelope.id === event.id)!;
        const category = event.streamId.split('-')[0];
        expect(message.subject).toBe(`${prefix}.${tenantA.tenantId}.${category}.${event.type}`);
        expect(message.envelope).toMatchObject({
          tenantId: tenantA.tenantId,
          position: event.position,
          type: event.type,
        });
      }
      expect(received.every((m) => m.envelope.tenantId === tenantA.tenantId)).toBe(true);
      expect(JSON.stringify(received)).not.toContain('s3cret');
    });

    it('should replay the earlier configuration with asOf', async () => {
      const asOf = new Date(Date.parse(createdAt) + 1).toISOString();
      const before = expectStatus(await asA(`GET`, `/v1/endpoints/${endpoint.id}/state?asOf=${asOf}`), 200);
      expect(before).toMatchObject({
        endpointId: endpoint.id,
        jobId: job.id,
        version: 1,
        status: 'active',
        config: {
          name: 'Send dunning e-mails',
          schedule: { kind: 'cron', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' },
          headers: { 'content-type': 'application/json', 'x-team': 'billing' },
          secretHeaderNames: ['authorization'],
        },
      });
      expect(JSON.stringify(before)).not.toContain('enc:v1');

      const now = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
      const latest = expectStatus(await asA('GET', `/v1/endpoints/${endpoint.id}/state?asOf=${now}`), 200);
      expect(latest).toMatchObject({
        version: 4,
        status: 'active',
        config: { name: 'Send dunning e-mails (EU)' },
      });
    });

    it('should answer 404 for an instant before the endpoint existed and 400 for a bad one', async () => {
      const earlier = new Date(Date.parse(createdAt) - 1).toISOString();
      const missing = await asA(`GET`, `/v1/endpoints/${endpoint.id}/state?asOf=${earlier}`);
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ error: 'ENDPOINT.NOT_FOUND' });
      for (const asOf of ['yesterday', '2025-02-30T00:00:00Z', '2025-03-01T10:00:00']) {
        const bad = await asA(`GET`, `/v1/endpoints/${endpoint.id}/state?asOf=${encodeURIComponent(asOf)}`);
        expect(bad.status).toBe(400);
        expect(bad.body.fields).toHaveProperty('asOf');
      }
    });
  });

  describe('When the commands of an endpoint are used', () => {
    let jobId: string;
    let endpointId: string;

    beforeAll(async () => {
      jobId = (await createJob()).id;
      endpointId = (await createEndpoint(jobId, { cron: undefined, timezone: undefined, intervalMs: 60_000 }))
        .id;
    });

    it('should request a manual run', async () => {
      const answer = expectStatus(await asA<Answer>('POST', `/v1/endpoints/${endpointId}/trigger`), 202);
      expect(answer).toMatchObject({ endpointId, runId: expect.any(String), position: expect.any(String) });
      const requested = (await eventsOf(`endpoint-${endpointId}`, answer.position as string)).find(
        (e) => e.type === 'RunRequested',
      );
      expect(requested?.data).toMatchObject({ runId: answer.runId, source: 'manual', trigger: null });
    });

    it('should clamp a hint to the bounds, show it, and clear it once', async () => {
      const hint = expectStatus(
        await asA<Answer>('POST', `/v1/endpoints/${endpointId}/hints`, {
          kind: 'interval',
          intervalMs: 5_000,
          ttlMinutes: 30,
          reason: 'incident INC-42',
        }),
        202,
      );
      expect(hint.hint).toMatchObject({ kind: 'interval', value: 60_000, requested: 5_000 });
      const read = expectStatus(await readA(`/v1/endpoints/${endpointId}`, hint.position), 200);
      expect(read.activeHints).toEqual([
        expect.objectContaining({ hintId: hint.hintId, kind: 'interval', value: 60_000, source: 'api' }),
      ]);

      const cleared = expectStatus(
        await asA<Answer>('DELETE', `/v1/endpoints/${endpointId}/hints?reason=resolved`),
        202,
      );
      expect(cleared.position).toEqual(expect.any(String));
      const again = expectStatus(await asA<Answer>('DELETE', `/v1/endpoints/${endpointId}/hints`), 202);
      expect(again.position).toBeNull();
    });

    it('should reset failures, list runs and analyses of the endpoint', async () => {
      const reset = expectStatus(
        await asA<Answer>('POST', `/v1/endpoints/${endpointId}/reset-failures`),
        202,
      );
      const runs = expectStatus(
        await readA(`/v1/endpoints/${endpointId}/runs?limit=10&status=failed`, reset.position),
        200,
      );
      expect(runs).toEqual({ items: [], nextCursor: null });
      const analyses = expectStatus(await readA(`/v1/endpoints/${endpointId}/analyses`, reset.position), 200);
      expect(analyses).toEqual({ items: [], nextCursor: null });
      expect((await asA('GET', `/v1/runs/${randomUUID()}`)).status).toBe(404);
    });

    it('should archive the endpoint once and refuse changes afterwards', async () => {
      const archived = expectStatus(await asA<Answer>('DELETE', `/v1/endpoints/${endpointId}`), 202);
      expect(archived.position).toEqual(expect.any(String));
      expect(
        expectStatus(await asA<Answer>('DELETE', `/v1/endpoints/${endpointId}`), 202).position,
      ).toBeNull();
      const patch = await asA('PATCH', `/v1/endpoints/${endpointId}`, { name: 'late' });
      expect(patch.status).toBe(409);
      expect(patch.body).toMatchObject({ error: 'ENDPOINT.ARCHIVED' });
      const read = expectStatus(await readA(`/v1/endpoints/${endpointId}`, archived.position), 200);
      expect(read).toMatchObject({ status: 'archived' });
    });
  });

  describe('When jobs are changed and listed', () => {
    it('should update, pause, resume and archive a job', async () => {
      const job = await createJob('to change');
      const updated = expectStatus(
        await asA<Answer>('PATCH', `/v1/jobs/${job.id}`, { description: 'now described' }),
        202,
      );
      const paused = expectStatus(
        await asA<Answer>('POST', `/v1/jobs/${job.id}/pause`, { reason: 'freeze' }),
        202,
      );
      let read = expectStatus(await readA(`/v1/jobs/${job.id}`, paused.position), 200);
      expect(read).toMatchObject({
        description: 'now described',
        status: 'paused',
        pause: { until: null, reason: 'freeze' },
      });
      const repaused = expectStatus(await asA<Answer>('POST', `/v1/jobs/${job.id}/pause`), 202);
      expect(repaused.position).toBeNull();
      const until = new Date(Date.now() + 3_600_000).toISOString();
      const moved = expectStatus(await asA<Answer>('POST', `/v1/jobs/${job.id}/pause`, { until }), 202);
      read = expectStatus(await readA(`/v1/jobs/${job.id}`, moved.position), 200);
      expect(read).toMatchObject({ status: 'paused', pause: { until, reason: null } });
      const resumed = expectStatus(await asA<Answer>('POST', `/v1/jobs/${job.id}/resume`), 202);
      read = expectStatus(await readA(`/v1/jobs/${job.id}`, resumed.position), 200);
      expect(read).toMatchObject({ status: 'active', pause: null });
      const archived = expectStatus(await asA<Answer>('DELETE', `/v1/jobs/${job.id}`), 202);
      expect(BigInt(archived.position!)).toBeGreaterThan(BigInt(updated.position!));
      const late = await asA('POST', `/v1/jobs/${job.id}/endpoints`, endpointBody());
      expect(late.status).toBe(409);
      expect(late.body).toMatchObject({ error: 'JOB.ARCHIVED' });
    });

    it('should refuse the commands of an endpoint whose job is archived, a copy of it included', async () => {
      const job = await createJob('to archive with its endpoint');
      const endpoint = await createEndpoint(job.id);
      // The duplicate check reads the endpoints read model: let it include the endpoint first.
      expectStatus(await readA(`/v1/endpoints/${endpoint.id}`, endpoint.position), 200);
      expectStatus(await asA<Answer>('DELETE', `/v1/jobs/${job.id}`), 202);
      const before = await eventCount(tenantA.tenantId);

      const copy = await asA('POST', `/v1/jobs/${job.id}/endpoints`, endpointBody());
      expect(copy.status).toBe(409);
      expect(copy.body).toMatchObject({ error: 'JOB.ARCHIVED' });
      const commands: [string, string, unknown][] = [
        ['POST', 'trigger', undefined],
        ['PATCH', '', { name: 'late' }],
        ['POST', 'pause', { reason: 'late' }],
        ['POST', 'reset-failures', undefined],
        ['POST', 'hints', { kind: 'interval', intervalMs: 120_000, reason: 'late' }],
        ['DELETE', 'hints', undefined],
      ];
      for (const [method, action, body] of commands) {
        const path = `/v1/endpoints/${endpoint.id}${action ? `/${action}` : ''}`;
        const res = await asA(method, path, body);
        expect({ method, path, status: res.status, error: res.body.error }).toEqual({
          method,
          path,
          status: 409,
          error: 'JOB.ARCHIVED',
        });
      }
      expect(await eventCount(tenantA.tenantId)).toBe(before);
    });

    it('should page through jobs with a cursor and filter by status', async () => {
      const tenant = await api.createTenant('Lister');
      const names = ['first', 'second', 'third'];
      let position: string | null = null;
      for (const name of names) {
        position = expectStatus(
          await call<Answer>('POST', '/v1/jobs', { apiKey: tenant.apiKey, body: { name } }),
          201,
        ).position;
      }
      const headers = { 'x-min-position': position! };
      const page1 = expectStatus(
        await call<{ items: Body[]; nextCursor: string }>('GET', '/v1/jobs?limit=2', {
          apiKey: tenant.apiKey,
          headers,
        }),
        200,
      );
      expect(page1.items.map((j) => j.name)).toEqual(['third', 'second']);
      const page2 = expectStatus(
        await call<{ items: Body[]; nextCursor: string | null }>(
          'GET',
          `/v1/jobs?limit=2&cursor=${encodeURIComponent(page1.nextCursor)}`,
          { apiKey: tenant.apiKey },
        ),
        200,
      );
      expect(page2).toEqual({ items: [expect.objectContaining({ name: 'first' })], nextCursor: null });
      const paused = await call<{ items: Body[] }>('GET', '/v1/jobs?status=paused', {
        apiKey: tenant.apiKey,
      });
      expect(expectStatus(paused, 200).items).toEqual([]);
    });

    it('should list the endpoints of a job', async () => {
      const job = await createJob();
      const first = await createEndpoint(job.id, { name: 'one' });
      const second = await createEndpoint(job.id, { name: 'two' });
      const list = expectStatus(
        await readA<{ items: Body[] }>(
          `/v1/endpoints?jobId=${job.id}&status=active&limit=10`,
          second.position,
        ),
        200,
      );
      expect(list.items.map((e) => e.id)).toEqual([second.id, first.id]);
    });
  });

  describe('When requests come from another tenant or without a valid key', () => {
    let jobId: string;
    let endpointId: string;
    // Paths name the ids to put in: `:job` and `:endpoint` are tenant A's, `:run` a random one.
    const routes: [method: string, path: string, body: unknown][] = [
      ['GET', '/v1/jobs/:job', undefined],
      ['PATCH', '/v1/jobs/:job', { name: 'taken over' }],
      ['DELETE', '/v1/jobs/:job', undefined],
      ['POST', '/v1/jobs/:job/pause', {}],
      ['POST', '/v1/jobs/:job/resume', undefined],
      ['POST', '/v1/jobs/:job/endpoints', endpointBody()],
      ['GET', '/v1/endpoints/:endpoint', undefined],
      ['PATCH', '/v1/endpoints/:endpoint', { name: 'taken over' }],
      ['DELETE', '/v1/endpoints/:endpoint', undefined],
      ['POST', '/v1/endpoints/:endpoint/pause', {}],
      ['POST', '/v1/endpoints/:endpoint/resume', undefined],
      ['POST', '/v1/endpoints/:endpoint/trigger', undefined],
      ['POST', '/v1/endpoints/:endpoint/reset-failures', undefined],
      ['POST', '/v1/endpoints/:endpoint/hints', { kind: 'interval', intervalMs: 60_000, reason: 'x' }],
      ['DELETE', '/v1/endpoints/:endpoint/hints', undefined],
      ['GET', '/v1/endpoints/:endpoint/state?asOf=2099-01-01T00:00:00Z', undefined],
      ['GET', '/v1/endpoints/:endpoint/runs', undefined],
      ['GET', '/v1/endpoints/:endpoint/analyses', undefined],
      ['GET', '/v1/runs/:run', undefined],
    ];
    const collections: [method: string, path: string, body: unknown][] = [
      ['POST', '/v1/jobs', { name: 'x' }],
      ['GET', '/v1/jobs', undefined],
      ['GET', '/v1/endpoints', undefined],
    ];
    const resolve = (path: string) =>
      path.replace(':job', jobId).replace(':endpoint', endpointId).replace(':run', randomUUID());

    beforeAll(async () => {
      jobId = (await createJob()).id;
      const endpoint = await createEndpoint(jobId);
      endpointId = endpoint.id;
      // Everything tenant A wrote is in the read models, so a 404 is isolation, not lag.
      expectStatus(await readA(`/v1/endpoints/${endpointId}`, endpoint.position), 200);
    });

    it.each(routes)('%s %s answers 404 to another tenant and writes nothing', async (method, path, body) => {
      const before = [await eventCount(tenantA.tenantId), await eventCount(tenantB.tenantId)];
      const res = await call(method, resolve(path), { apiKey: tenantB.apiKey, body });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ error: expect.stringMatching(/NOT_FOUND/) });
      // Named as the API names resources (`Job <id>`), not by the event store's stream id.
      expect(res.body.message).not.toMatch(/(job|endpoint)-[0-9a-f]{8}/);
      expect([await eventCount(tenantA.tenantId), await eventCount(tenantB.tenantId)]).toEqual(before);
    });

    it.each([...routes, ...collections])(
      '%s %s answers 401 without a valid key',
      async (method, path, body) => {
        for (const apiKey of [undefined, 'ck_live_not-a-key', api.adminKey]) {
          const res = await call(method, resolve(path), { apiKey, body });
          expect(res.status).toBe(401);
        }
      },
    );

    it('should answer 404 for ids that are not ids', async () => {
      for (const path of ['/v1/jobs/not-an-id', '/v1/endpoints/1234', `/v1/runs/${'9'.repeat(300)}`]) {
        expect((await asA('GET', path)).status).toBe(404);
      }
    });
  });

  describe('When the input is bad', () => {
    let jobId: string;
    let endpointId: string;
    const valid = { name: 'n', url: 'https://example.com/hook', intervalMs: 60_000 };
    const manyHeaders = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`x-h${i}`, 'v']));
    const huge = 'x'.repeat(300 * 1024);
    const create = (body: unknown) => ['POST', () => `/v1/jobs/${jobId}/endpoints`, body] as const;
    const patch = (body: unknown) => ['PATCH', () => `/v1/endpoints/${endpointId}`, body] as const;

    // [description, method, path, body (a string is sent raw), status, the field or error code named]
    const cases: [string, string, () => string, unknown, number, string][] = [
      ['malformed JSON', 'POST', () => '/v1/jobs', '{"name": "x",', 400, 'BAD_JSON'],
      ['a JSON scalar as body', 'POST', () => '/v1/jobs', 'null', 400, 'BAD_JSON'],
      ['a job without a name', 'POST', () => '/v1/jobs', {}, 400, 'name'],
      [
        'a job name of zero-width characters',
        'POST',
        () => '/v1/jobs',
        { name: '\u200B\u200D\uFEFF' },
        400,
        'name',
      ],
      [
        'a job name with a lone surrogate',
        'POST',
        () => '/v1/jobs',
        { name: 'bad \uD800 name' },
        400,
        'name',
      ],
      ['a job name with a control character', 'POST', () => '/v1/jobs', { name: 'bell\u0007' }, 400, 'name'],
      ['a job name that is a number', 'POST', () => '/v1/jobs', { name: 42 }, 400, 'name'],
      ['a job name too long', 'POST', () => '/v1/jobs', { name: 'x'.repeat(201) }, 400, 'name'],
      ['an unknown job field', 'POST', () => '/v1/jobs', { name: 'x', colour: 'red' }, 400, 'colour'],
      [
        'a request body over the limit',
        'POST',
        () => '/v1/jobs',
        { name: 'x', description: huge },
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      ['an endpoint without url', ...create({ name: 'n', intervalMs: 60_000 }), 400, 'url'],
      ['a url that is not one', ...create({ ...valid, url: 'not a url' }), 400, 'url'],
      ['an ftp url', ...create({ ...valid, url: 'ftp://example.com/file' }), 400, 'url'],
      ['a javascript url', ...create({ ...valid, url: 'javascript:alert(1)' }), 400, 'url'],
      ['an unknown method', ...create({ ...valid, method: 'FETCH' }), 400, 'method'],
      ['headers as a list', ...create({ ...valid, headers: ['a'] }), 400, 'headers'],
      ['a header value that is a number', ...create({ ...valid, headers: { 'x-a': 1 } }), 400, 'headers'],
      [
        'a header with a line break',
        ...create({ ...valid, headers: { 'x-a': 'a\r\nx-b: c' } }),
        400,
        'headers',
      ],
      ['a header name with a space', ...create({ ...valid, headers: { 'x a': 'b' } }), 400, 'headers'],
      ['a header name with unicode', ...create({ ...valid, headers: { 'x-ünï': 'b' } }), 400, 'headers'],
      ['too many headers', ...create({ ...valid, headers: manyHeaders }), 400, 'headers'],
      [
        'a bad secret header name',
        ...create({ ...valid, secretHeaders: { 'a b': 'c' } }),
        400,
        'secretHeaders',
      ],
      [
        'a secret header also set in clear',
        ...create({ ...valid, headers: { authorization: 'a' }, secretHeaders: { Authorization: 'b' } }),
        400,
        'secretHeaders.Authorization',
      ],
      [
        'a request body over 64 KiB',
        ...create({ ...valid, body: { blob: 'x'.repeat(66 * 1024) } }),
        400,
        'body',
      ],
      [
        'a request body with a NUL character',
        ...create({ ...valid, body: { text: 'a\u0000b' } }),
        400,
        'body',
      ],
      ['a timeout of zero', ...create({ ...valid, timeoutMs: 0 }), 400, 'timeoutMs'],
      ['a timeout over five minutes', ...create({ ...valid, timeoutMs: 300_001 }), 400, 'timeoutMs'],
      ['a timeout as a string', ...create({ ...valid, timeoutMs: '1000' }), 400, 'timeoutMs'],
      ['a fractional timeout', ...create({ ...valid, timeoutMs: 1.5 }), 400, 'timeoutMs'],
      ['both cron and interval', ...create({ ...valid, cron: '* * * * *' }), 400, 'cron'],
      ['no schedule at all', ...create({ name: 'n', url: valid.url }), 400, 'runAt'],
      ['a cron of words', ...create({ name: 'n', url: valid.url, cron: 'every day' }), 400, 'cron'],
      ['a cron minute of 61', ...create({ name: 'n', url: valid.url, cron: '61 * * * *' }), 400, 'cron'],
      ['a cron that never fires', ...create({ name: 'n', url: valid.url, cron: '0 0 30 2 *' }), 400, 'cron'],
      [
        'an unknown time zone',
        ...create({ name: 'n', url: valid.url, cron: '0 9 * * *', timezone: 'Mars/Olympus' }),
        400,
        'timezone',
      ],
      ['an interval under a second', ...create({ ...valid, intervalMs: 999 }), 400, 'intervalMs'],
      ['a negative interval', ...create({ ...valid, intervalMs: -5 }), 400, 'intervalMs'],
      [
        'an interval past the dates',
        ...create({ ...valid, intervalMs: 9_007_199_254_740_991 }),
        400,
        'intervalMs',
      ],
      [
        'a runAt that is not a date',
        ...create({ name: 'n', url: valid.url, runAt: 'tomorrow' }),
        400,
        'runAt',
      ],
      [
        'a runAt without offset',
        ...create({ name: 'n', url: valid.url, runAt: '2099-01-01T00:00:00' }),
        400,
        'runAt',
      ],
      [
        'a runAt in the past',
        ...create({ name: 'n', url: valid.url, runAt: '2020-01-01T00:00:00Z' }),
        400,
        'runAt',
      ],
      ['a startAt on 30 February', ...create({ ...valid, startAt: '2099-02-30T00:00:00Z' }), 400, 'startAt'],
      [
        'an endAt before startAt',
        ...create({ ...valid, startAt: '2099-01-02T00:00:00Z', endAt: '2099-01-01T00:00:00Z' }),
        400,
        'endAt',
      ],
      [
        'min above max interval',
        ...create({ ...valid, minIntervalMs: 120_000, maxIntervalMs: 60_000 }),
        400,
        'minIntervalMs',
      ],
      ['maxRuns of zero', ...create({ ...valid, maxRuns: 0 }), 400, 'maxRuns'],
      ['maxAttempts of eleven', ...create({ ...valid, maxAttempts: 11 }), 400, 'maxAttempts'],
      ['a negative jitter', ...create({ ...valid, jitterMs: -1 }), 400, 'jitterMs'],
      ['an unknown catch-up policy', ...create({ ...valid, catchUp: 'sometimes' }), 400, 'catchUp'],
      ['an unknown overlap policy', ...create({ ...valid, overlap: 'parallel' }), 400, 'overlap'],
      [
        'pauseAfterFailures of zero',
        ...create({ ...valid, pauseAfterFailures: 0 }),
        400,
        'pauseAfterFailures',
      ],
      [
        'a trigger name with capitals and space',
        ...create({ ...valid, triggers: ['Deploy Done'] }),
        400,
        'triggers',
      ],
      ['triggers as a string', ...create({ ...valid, triggers: 'deploy' }), 400, 'triggers'],
      ['an unknown endpoint field', ...create({ ...valid, retries: 3 }), 400, 'retries'],
      ['a name set to null', ...patch({ name: null }), 400, 'name'],
      ['an interval under a second in a change', ...patch({ intervalMs: 500 }), 400, 'intervalMs'],
      ['a min interval above the stored max', ...patch({ minIntervalMs: 7_200_000 }), 400, 'minIntervalMs'],
      ['an interval and a time zone', ...patch({ intervalMs: 60_000, timezone: 'UTC' }), 400, 'intervalMs'],
      [
        'a pause until a word',
        'POST',
        () => `/v1/endpoints/${endpointId}/pause`,
        { until: 'soon' },
        400,
        'until',
      ],
      [
        'a pause until the past',
        'POST',
        () => `/v1/endpoints/${endpointId}/pause`,
        { until: '2020-01-01T00:00:00Z' },
        400,
        'until',
      ],
      [
        'an unknown hint kind',
        'POST',
        () => `/v1/endpoints/${endpointId}/hints`,
        { kind: 'forever', reason: 'x' },
        400,
        'kind',
      ],
      [
        'an interval hint without interval',
        'POST',
        () => `/v1/endpoints/${endpointId}/hints`,
        { kind: 'interval', reason: 'x' },
        400,
        'intervalMs',
      ],
      [
        'a one-shot hint in the past',
        'POST',
        () => `/v1/endpoints/${endpointId}/hints`,
        { kind: 'one_shot', at: '2020-01-01T00:00:00Z', reason: 'x' },
        400,
        'at',
      ],
      [
        'a one-shot hint beyond a week',
        'POST',
        () => `/v1/endpoints/${endpointId}/hints`,
        { kind: 'one_shot', at: '2099-01-01T00:00:00Z', reason: 'x' },
        400,
        'at',
      ],
      [
        'a hint without reason',
        'POST',
        () => `/v1/endpoints/${endpointId}/hints`,
        { kind: 'interval', intervalMs: 60_000 },
        400,
        'reason',
      ],
      ['a page size of zero', 'GET', () => '/v1/jobs?limit=0', undefined, 400, 'limit'],
      ['a page size that is a word', 'GET', () => '/v1/jobs?limit=many', undefined, 400, 'limit'],
      ['a page size in hex', 'GET', () => '/v1/jobs?limit=0x10', undefined, 400, 'limit'],
      ['a page size with an exponent', 'GET', () => '/v1/endpoints?limit=1e1', undefined, 400, 'limit'],
      [
        'a cron preview count in hex',
        'GET',
        () => '/v1/cron/describe?expr=@daily&count=0x3',
        undefined,
        400,
        'count',
      ],
      ['an unknown job status filter', 'GET', () => '/v1/jobs?status=gone', undefined, 400, 'status'],
      ['a cursor we did not make', 'GET', () => '/v1/jobs?cursor=garbage', undefined, 400, 'cursor'],
      ['an unknown query parameter', 'GET', () => '/v1/jobs?sort=name', undefined, 400, 'sort'],
      ['a jobId filter that is not an id', 'GET', () => '/v1/endpoints?jobId=42', undefined, 400, 'jobId'],
      [
        'an unknown run status filter',
        'GET',
        () => `/v1/endpoints/${endpointId}/runs?status=exploded`,
        undefined,
        400,
        'status',
      ],
    ];

    beforeAll(async () => {
      jobId = (await createJob()).id;
      endpointId = (await createEndpoint(jobId, { cron: undefined, timezone: undefined, intervalMs: 60_000 }))
        .id;
    });

    it('should have a table of at least 30 cases', () => expect(cases.length).toBeGreaterThanOrEqual(30));

    it.each(cases)('should refuse %s', async (_name, method, path, body, status, named) => {
      const before = await eventCount(tenantA.tenantId);
      const res = await call<{ error: string; fields?: Record<string, string> }>(method, path(), {
        apiKey: tenantA.apiKey,
        ...(typeof body === 'string' ? { rawBody: body } : { body }),
      });
      expect({ status: res.status, body: res.body }).toMatchObject({ status });
      if (/^[A-Z_]+$/.test(named)) expect(res.body.error).toBe(named);
      else expect(Object.keys(res.body.fields ?? {})).toContain(named);
      expect(await eventCount(tenantA.tenantId)).toBe(before);
    });

    it('should refuse a bad x-min-position header', async () => {
      const res = await call<{ fields: Record<string, string> }>('GET', `/v1/jobs/${jobId}`, {
        apiKey: tenantA.apiKey,
        headers: { 'x-min-position': 'latest' },
      });
      expect(res.status).toBe(400);
      expect(res.body.fields).toHaveProperty('x-min-position');
    });
  });

  describe('When a client retries or races', () => {
    it('should create one job for retries with the same Idempotency-Key', async () => {
      const key = randomUUID();
      const name = `idempotent-${key}`;
      const send = () => asA<Answer>('POST', '/v1/jobs', { name }, { 'idempotency-key': key });
      const first = await send();
      const answers = [first, await send(), ...(await Promise.all([send(), send(), send()]))];
      for (const answer of answers) expect([201, 409]).toContain(answer.status);
      const created = answers.filter((a) => a.status === 201);
      expect(new Set(created.map((a) => a.body.id))).toEqual(new Set([first.body.id]));
      expect(answers[1].headers.get('idempotency-replayed')).toBe('true');
      const { rows } = await api.db.pool.query(
        "SELECT count(*)::int AS n FROM events WHERE type = 'JobCreated' AND data->>'name' = $1",
        [name],
      );
      expect(rows[0].n).toBe(1);
    });

    it('should never lose an update when two PATCHes of one endpoint race', async () => {
      const endpointId = (await createEndpoint((await createJob()).id)).id;
      for (let round = 1; round <= 8; round++) {
        const [name, timeout] = await Promise.all([
          asA('PATCH', `/v1/endpoints/${endpointId}`, { name: `round ${round}` }),
          asA('PATCH', `/v1/endpoints/${endpointId}`, { timeoutMs: 1_000 + round }),
        ]);
        for (const res of [name, timeout]) expect([202, 409]).toContain(res.status);
        const asOf = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
        const state = expectStatus(
          await asA<{ config: Body }>('GET', `/v1/endpoints/${endpointId}/state?asOf=${asOf}`),
          200,
        );
        if (name.status === 202) expect(state.config.name).toBe(`round ${round}`);
        if (timeout.status === 202) expect(state.config.timeoutMs).toBe(1_000 + round);
      }
    });
  });
});
