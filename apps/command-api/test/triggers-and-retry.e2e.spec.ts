import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunFinished, RunRequested, TriggerFired } from '@cronicorn/events';
import { startDispatcherFor, startProjectorFor, startSchedulerFor, waitFor } from './apps';
import { startApi, TestApi } from './harness';
import { JsonResponse, request } from './http';

// Named triggers and run retries end to end: the real command-api, projector and scheduler in
// this process and the dispatcher as its own process, all on one database and NATS namespace,
// calling a target on loopback. A trigger must start exactly one run per active listening
// endpoint of the caller's tenant, and the body the target receives is the rendered template.

jest.setTimeout(120_000);

type Body = Record<string, unknown>;

interface Hit {
  path: string;
  body: unknown;
}

/** A loopback target: records each call; `/hook/*` answers JSON with a fresh cursor. */
class Target {
  readonly hits: Hit[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Target> {
    let target: Target | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const hits = target?.hits ?? [];
        hits.push({ path: req.url ?? '/', body: text ? (JSON.parse(text) as unknown) : null });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ cursor: `c-${hits.length}` }));
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    target = new Target(server);
    return target;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  of(path: string): Hit[] {
    return this.hits.filter((hit) => hit.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((done) => this.server.close(done));
  }
}

let api: TestApi;
let target: Target;
const stops: (() => Promise<void>)[] = [];
let tenantA: { tenantId: string; apiKey: string };
let tenantB: { tenantId: string; apiKey: string };

beforeAll(async () => {
  api = await startApi({ env: { API_RATE_LIMIT_PER_SECOND: '0' } });
  target = await Target.start();
  stops.push(await startProjectorFor(api));
  stops.push(await startSchedulerFor(api));
  stops.push(await startDispatcherFor(api));
  tenantA = await api.createTenant('Tenant A');
  tenantB = await api.createTenant('Tenant B');
}, 90_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await target?.close();
  await api?.close();
});

function expectStatus<T>(res: JsonResponse<T>, status: number): T {
  if (res.status !== status)
    throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

const as = (tenant: { apiKey: string }) =>
  function call<T = Body>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    return request<T>(api.url, method, path, { apiKey: tenant.apiKey, body, headers });
  };

/** Events of one type in the store, with their stream ids, in log order. */
async function eventsOfType<E extends { data: unknown }>(
  type: string,
  tenantId: string,
): Promise<{ streamId: string; data: E['data']; position: string }[]> {
  const { rows } = await api.db.pool.query<{ stream_id: string; data: E['data']; position: string }>(
    'SELECT stream_id, data, position FROM events WHERE type = $1 AND tenant_id = $2 ORDER BY position',
    [type, tenantId],
  );
  return rows.map((row) => ({ streamId: row.stream_id, data: row.data, position: row.position }));
}

async function runFinished(runId: string): Promise<RunFinished['data'] | null> {
  const { rows } = await api.db.pool.query<{ data: RunFinished['data'] }>(
    `SELECT data FROM events WHERE stream_id = $1 AND type = 'RunFinished'`,
    [`run-${runId}`],
  );
  return rows[0]?.data ?? null;
}

async function finishedRun(runId: string): Promise<RunFinished['data']> {
  let finished: RunFinished['data'] | null = null;
  await waitFor(`run ${runId} to finish`, async () => (finished = await runFinished(runId)) !== null);
  return finished as unknown as RunFinished['data'];
}

/** Far from now: the endpoints below never run on their schedule during the test. */
const NEW_YEAR = '0 0 1 1 *';
const HOUR = 3_600_000;

describe('A trigger fired with x-min-position 0', () => {
  it('should not wait: position 0 is before every event', async () => {
    const tenant = await api.createTenant('Tenant at the log start');
    const res = await as(tenant)('POST', '/v1/triggers/nobody.listens', {}, { 'x-min-position': '0' });
    expectStatus(res, 202);
    expect(res.headers.get('x-read-model-lagging')).toBeNull();
  });
});

describe('Named triggers and retries (API, projector, scheduler, dispatcher)', () => {
  const A = () => as(tenantA);
  const B = () => as(tenantB);
  let ids: Record<'e1' | 'e2' | 'other' | 'paused' | 'jobPaused' | 'archived' | 'foreign', string>;
  let lastWrite: string;
  let firstRuns: { endpointId: string; runId: string }[];

  async function createJob(call: ReturnType<typeof as>, name: string): Promise<string> {
    return expectStatus(await call<{ id: string }>('POST', '/v1/jobs', { name }), 201).id;
  }

  async function createEndpoint(
    call: ReturnType<typeof as>,
    jobId: string,
    path: string,
    triggers: string[],
    extra: Body = {},
  ): Promise<string> {
    const res = await call<{ id: string; position: string }>('POST', `/v1/jobs/${jobId}/endpoints`, {
      name: path,
      url: target.url(path),
      cron: NEW_YEAR,
      triggers,
      ...extra,
    });
    lastWrite = expectStatus(res, 201).position;
    return res.body.id;
  }

  beforeAll(async () => {
    const job = await createJob(A(), 'orders');
    const pausedJob = await createJob(A(), 'paused job');
    const e1 = await createEndpoint(A(), job, '/hook/e1', ['order.paid'], {
      method: 'POST',
      body: {
        order: '{{trigger.payload.orderId}}',
        note: 'paid by {{trigger.payload.customer.name}} via {{trigger.name}}',
        cursor: '{{previousRun.response.json.cursor}}',
        missing: '{{trigger.payload.nope}}',
      },
    });
    const e2 = await createEndpoint(A(), job, '/hook/e2', ['order.paid', 'order.refunded']);
    const other = await createEndpoint(A(), job, '/hook/other', ['order.refunded']);
    const paused = await createEndpoint(A(), job, '/hook/paused', ['order.paid']);
    const jobPaused = await createEndpoint(A(), pausedJob, '/hook/job-paused', ['order.paid']);
    const archived = await createEndpoint(A(), job, '/hook/archived', ['order.paid']);
    const foreign = await createEndpoint(B(), await createJob(B(), 'b'), '/hook/foreign', ['order.paid']);
    expectStatus(await A()('POST', `/v1/endpoints/${paused}/pause`, { reason: 'maintenance' }), 202);
    expectStatus(await A()('POST', `/v1/jobs/${pausedJob}/pause`, {}), 202);
    lastWrite = expectStatus(
      await A()<{ position: string }>('DELETE', `/v1/endpoints/${archived}`),
      202,
    ).position;
    ids = { e1, e2, other, paused, jobPaused, archived, foreign };
  });

  describe('When tenant A fires a trigger', () => {
    let answer: { id: string; triggerId: string; runs: typeof firstRuns; skipped: Body[]; position: string };

    beforeAll(async () => {
      const res = await A()<typeof answer>(
        'POST',
        '/v1/triggers/order.paid',
        { payload: { orderId: 42, customer: { name: 'Ada' } } },
        { 'x-min-position': lastWrite },
      );
      answer = expectStatus(res, 202);
      expect(res.headers.get('x-read-model-lagging')).toBeNull();
      expect(res.headers.get('x-position')).toBe(answer.position);
      firstRuns = answer.runs;
    });

    it('should answer with one run per active listening endpoint and the paused ones skipped', () => {
      expect(answer.id).toBe(answer.triggerId);
      expect(answer.runs.map((run) => run.endpointId).sort()).toEqual([ids.e1, ids.e2].sort());
      expect(new Set(answer.runs.map((run) => run.runId)).size).toBe(2);
      expect(answer.skipped).toEqual(
        expect.arrayContaining([
          { endpointId: ids.paused, reason: 'endpoint_paused' },
          { endpointId: ids.jobPaused, reason: 'job_paused' },
        ]),
      );
      expect(answer.skipped).toHaveLength(2);
    });

    it('should record exactly one RunRequested per listening endpoint, none for the others', async () => {
      const requested = await eventsOfType<RunRequested>('RunRequested', tenantA.tenantId);
      expect(requested.map((e) => e.streamId).sort()).toEqual(
        [`endpoint-${ids.e1}`, `endpoint-${ids.e2}`].sort(),
      );
      for (const { streamId, data } of requested) {
        const run = answer.runs.find((r) => `endpoint-${r.endpointId}` === streamId);
        expect(data).toMatchObject({
          runId: run?.runId,
          source: 'trigger',
          trigger: { name: 'order.paid', payload: { orderId: 42, customer: { name: 'Ada' } } },
          retryOf: null,
        });
      }
      expect(await eventsOfType('RunRequested', tenantB.tenantId)).toEqual([]);
    });

    it('should record TriggerFired on the tenant stream with the runs and the skipped endpoints', async () => {
      const fired = await eventsOfType<TriggerFired>('TriggerFired', tenantA.tenantId);
      expect(fired).toHaveLength(1);
      expect(fired[0].streamId).toBe(`tenant-${tenantA.tenantId}`);
      expect(fired[0].position).toBe(answer.position);
      expect(fired[0].data).toMatchObject({ triggerId: answer.triggerId, name: 'order.paid' });
      expect(fired[0].data.endpointIds.sort()).toEqual([ids.e1, ids.e2].sort());
      expect(fired[0].data.runs).toEqual(expect.arrayContaining(answer.runs));
      expect(fired[0].data.skippedEndpointIds?.sort()).toEqual([ids.paused, ids.jobPaused].sort());
      expect(fired[0].data.skipped).toEqual(expect.arrayContaining(answer.skipped));
    });

    it('should call the target with the body template rendered from the payload', async () => {
      await waitFor(
        'the triggered calls',
        () => target.of('/hook/e1').length === 1 && target.of('/hook/e2').length === 1,
      );
      expect(target.of('/hook/e1')[0].body).toEqual({
        order: 42,
        note: 'paid by Ada via order.paid',
        cursor: null,
        missing: null,
      });
      const e1Run = answer.runs.find((run) => run.endpointId === ids.e1)?.runId ?? '';
      const finished = await finishedRun(e1Run);
      expect(finished).toMatchObject({ status: 'success', trigger: 'trigger', httpStatus: 200 });
      expect(finished.templateUnresolved?.sort()).toEqual([
        'previousRun.response.json.cursor',
        'trigger.payload.nope',
      ]);
      expect(target.of('/hook/paused')).toEqual([]);
      expect(target.of('/hook/job-paused')).toEqual([]);
      expect(target.of('/hook/other')).toEqual([]);
      expect(target.of('/hook/foreign')).toEqual([]);
    });

    it("should render the previous run's JSON response into the next triggered run", async () => {
      const e1Run = answer.runs.find((run) => run.endpointId === ids.e1)?.runId ?? '';
      const first = await finishedRun(e1Run);
      // The scheduler keeps the latest finished run for templates once it has folded its RunFinished.
      await waitFor('the scheduler to fold the first run', async () => {
        const { rows } = await api.db.pool.query<{ finished: { finishedAt: string } | null }>(
          'SELECT last_finished AS finished FROM scheduler_endpoint_results WHERE endpoint_id = $1',
          [ids.e1],
        );
        return rows[0]?.finished?.finishedAt === first.finishedAt;
      });
      const expectedCursor = JSON.parse(first.response?.snippet ?? 'null') as { cursor: string };
      const second = expectStatus(
        await A()<{ runs: { endpointId: string; runId: string }[] }>('POST', '/v1/triggers/order.paid', {
          payload: { orderId: 43, customer: { name: 'Grace' } },
        }),
        202,
      );
      expect(second.runs).toHaveLength(2);
      await waitFor('the second call', () => target.of('/hook/e1').length === 2);
      expect(target.of('/hook/e1')[1].body).toEqual({
        order: 43,
        note: 'paid by Grace via order.paid',
        cursor: expectedCursor.cursor,
        missing: null,
      });
    });
  });

  describe('When tenant B fires the same name', () => {
    it("should start only tenant B's listener", async () => {
      const before = (await eventsOfType('RunRequested', tenantA.tenantId)).length;
      const res = expectStatus(
        await B()<{ runs: { endpointId: string }[]; skipped: unknown[] }>('POST', '/v1/triggers/order.paid'),
        202,
      );
      expect(res.runs.map((run) => run.endpointId)).toEqual([ids.foreign]);
      expect(res.skipped).toEqual([]);
      expect((await eventsOfType('RunRequested', tenantA.tenantId)).length).toBe(before);
      const requested = await eventsOfType<RunRequested>('RunRequested', tenantB.tenantId);
      expect(requested.map((e) => e.streamId)).toEqual([`endpoint-${ids.foreign}`]);
      expect(requested[0].data.trigger).toEqual({ name: 'order.paid', payload: null });
    });
  });

  describe('When a firing is retried with the same Idempotency-Key', () => {
    it('should start the runs once and answer the same', async () => {
      const before = (await eventsOfType('RunRequested', tenantA.tenantId)).length;
      const fire = () =>
        A()<{ triggerId: string; runs: { endpointId: string }[] }>(
          'POST',
          '/v1/triggers/order.refunded',
          { payload: { refund: 7 } },
          { 'idempotency-key': 'refund-7' },
        );
      const first = expectStatus(await fire(), 202);
      const again = await fire();
      expect(expectStatus(again, 202)).toEqual(first);
      expect(again.headers.get('idempotency-replayed')).toBe('true');
      expect(first.runs.map((run) => run.endpointId).sort()).toEqual([ids.e2, ids.other].sort());
      expect((await eventsOfType('RunRequested', tenantA.tenantId)).length).toBe(before + 2);
      const fired = await eventsOfType<TriggerFired>('TriggerFired', tenantA.tenantId);
      expect(fired.filter((e) => e.data.triggerId === first.triggerId)).toHaveLength(1);
    });
  });

  describe('When nobody listens or the name is bad', () => {
    it('should record the firing with no runs', async () => {
      const res = expectStatus(
        await A()<{ runs: unknown[]; skipped: unknown[]; position: string }>(
          'POST',
          '/v1/triggers/nobody.listens',
          {
            payload: [1, 2],
          },
        ),
        202,
      );
      expect(res).toMatchObject({ runs: [], skipped: [] });
      const fired = await eventsOfType<TriggerFired>('TriggerFired', tenantA.tenantId);
      expect(fired.at(-1)?.data).toMatchObject({ name: 'nobody.listens', payload: [1, 2], endpointIds: [] });
    });

    it.each([
      ['Upper.Case', 'name'],
      ['-leading-dash', 'name'],
      ['a'.repeat(65), 'name'],
    ])('should refuse the name %s with 400 naming %s', async (name, field) => {
      const res = await A()<{ fields: Body }>('POST', `/v1/triggers/${name}`);
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.fields)).toEqual([field]);
    });

    it('should refuse an unknown body field and a payload that is too large', async () => {
      const unknown = await A()<{ fields: Body }>('POST', '/v1/triggers/x', { payload: 1, extra: true });
      expect(unknown.status).toBe(400);
      expect(Object.keys(unknown.body.fields)).toEqual(['extra']);
      const large = await A()<{ fields: Body }>('POST', '/v1/triggers/x', { payload: 'x'.repeat(40_000) });
      expect(large.status).toBe(400);
      expect(Object.keys(large.body.fields)).toEqual(['payload']);
    });

    it('should refuse a request without a tenant key', async () => {
      const res = await request(api.url, 'POST', '/v1/triggers/order.paid', { apiKey: api.adminKey });
      expect(res.status).toBe(401);
    });
  });

  describe('When a run is retried', () => {
    interface EndpointView {
      nextRun: { runId: string; at: string } | null;
    }

    it('should request a linked run with the same trigger payload and leave the planned next run alone', async () => {
      const original = firstRuns.find((run) => run.endpointId === ids.e1)?.runId ?? '';
      await finishedRun(original);
      let before = null as EndpointView['nextRun'];
      await waitFor('a planned next run', async () => {
        const res = await A()<EndpointView>('GET', `/v1/endpoints/${ids.e1}`, undefined, {
          'x-min-position': lastWrite,
        });
        before = res.body.nextRun;
        return before !== null;
      });
      const hitsBefore = target.of('/hook/e1').length;

      const res = await A()<{
        id: string;
        runId: string;
        retryOf: string;
        endpointId: string;
        position: string;
      }>('POST', `/v1/runs/${original}/retry`);
      const retry = expectStatus(res, 202);
      expect(retry).toMatchObject({ id: retry.runId, retryOf: original, endpointId: ids.e1 });
      expect(retry.runId).not.toBe(original);
      expect(res.headers.get('x-position')).toBe(retry.position);

      const requested = (await eventsOfType<RunRequested>('RunRequested', tenantA.tenantId)).find(
        (e) => e.data.runId === retry.runId,
      );
      expect(requested?.streamId).toBe(`endpoint-${ids.e1}`);
      expect(requested?.data).toMatchObject({
        source: 'retry',
        retryOf: original,
        trigger: { name: 'order.paid', payload: { orderId: 42, customer: { name: 'Ada' } } },
      });

      const finished = await finishedRun(retry.runId);
      expect(finished).toMatchObject({ trigger: 'retry', retryOf: original, status: 'success' });
      expect(target.of('/hook/e1')).toHaveLength(hitsBefore + 1);
      expect(target.of('/hook/e1').at(-1)?.body).toMatchObject({
        order: 42,
        note: 'paid by Ada via order.paid',
      });

      // The run appears in the runs read model once it started; wait for its RunFinished there.
      await waitFor('the retry in the runs read model', async () => {
        const current = await A()<{ status: string }>('GET', `/v1/runs/${retry.runId}`);
        return current.status === 200 && current.body.status === 'success';
      });
      const shown = expectStatus(
        await A()<{ retryOf: string; trigger: string }>('GET', `/v1/runs/${retry.runId}`),
        200,
      );
      expect(shown).toMatchObject({ retryOf: original, trigger: 'retry' });

      // The scheduler folded the retry (it started and finished) and kept the plan as it was.
      await waitFor('the scheduler to fold the retry', async () => {
        const { rows } = await api.db.pool.query<{ finished: { finishedAt: string } | null }>(
          'SELECT last_finished AS finished FROM scheduler_endpoint_results WHERE endpoint_id = $1',
          [ids.e1],
        );
        return rows[0]?.finished?.finishedAt === finished.finishedAt;
      });
      const { rows: positions } = await api.db.pool.query<{ max: string }>(
        'SELECT max(position) AS max FROM events',
      );
      const after = await A()<EndpointView>('GET', `/v1/endpoints/${ids.e1}`, undefined, {
        'x-min-position': positions[0].max,
      });
      expect(after.body.nextRun).toMatchObject({ runId: before?.runId, at: before?.at });
    });

    it('should not move the next run of an interval endpoint, which a manual run does', async () => {
      const jobId = await createJob(A(), 'hourly');
      // Starting in half an hour: no scheduled run gets in the way of the manual one.
      const endpointId = await createEndpoint(A(), jobId, '/hook/hourly', [], {
        cron: undefined,
        intervalMs: HOUR,
        startAt: new Date(Date.now() + HOUR / 2).toISOString(),
      });
      const folded = async (finishedAt: string) =>
        waitFor('the scheduler to fold the run', async () => {
          const { rows } = await api.db.pool.query<{ finished: { finishedAt: string } | null }>(
            'SELECT last_finished AS finished FROM scheduler_endpoint_results WHERE endpoint_id = $1',
            [endpointId],
          );
          return rows[0]?.finished?.finishedAt === finishedAt;
        });
      const nextRun = async () => {
        const { rows } = await api.db.pool.query<{ max: string }>('SELECT max(position) AS max FROM events');
        const res = await A()<EndpointView>('GET', `/v1/endpoints/${endpointId}`, undefined, {
          'x-min-position': rows[0].max,
        });
        return expectStatus(res, 200).nextRun;
      };

      const manual = expectStatus(
        await A()<{ runId: string }>('POST', `/v1/endpoints/${endpointId}/trigger`),
        202,
      );
      const manualRun = await finishedRun(manual.runId);
      await folded(manualRun.finishedAt);
      const before = await nextRun();
      // An interval counts from the latest run of the schedule or by hand, from when the
      // scheduler handed it out (its scheduledFor; ADR 0010), not from the dispatcher's start.
      expect(Date.parse(before?.at ?? '')).toBe(Date.parse(manualRun.scheduledFor) + HOUR);
      expect(Date.parse(manualRun.startedAt)).toBeGreaterThanOrEqual(Date.parse(manualRun.scheduledFor));

      const retry = expectStatus(await A()<{ runId: string }>('POST', `/v1/runs/${manual.runId}/retry`), 202);
      const retryRun = await finishedRun(retry.runId);
      expect(Date.parse(retryRun.startedAt)).toBeGreaterThan(Date.parse(manualRun.startedAt));
      await folded(retryRun.finishedAt);
      expect(await nextRun()).toEqual(before);
    });

    it('should answer 409 to a retry once the job of the run is archived: that run would never start', async () => {
      const jobId = await createJob(A(), 'to archive');
      const endpointId = await createEndpoint(A(), jobId, '/hook/archived-job', [], {
        cron: undefined,
        intervalMs: HOUR,
        startAt: new Date(Date.now() + HOUR / 2).toISOString(),
      });
      const manual = expectStatus(
        await A()<{ runId: string }>('POST', `/v1/endpoints/${endpointId}/trigger`),
        202,
      );
      await finishedRun(manual.runId);
      expectStatus(await A()('DELETE', `/v1/jobs/${jobId}`), 202);
      const res = await A()('POST', `/v1/runs/${manual.runId}/retry`);
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ error: 'JOB.ARCHIVED' });
    });

    it("should answer 404 for another tenant's run and for an unknown one", async () => {
      const original = firstRuns[0].runId;
      await finishedRun(original);
      expect((await B()('POST', `/v1/runs/${original}/retry`)).status).toBe(404);
      expect((await A()('POST', '/v1/runs/00000000-0000-4000-8000-000000000000/retry')).status).toBe(404);
      expect((await A()('POST', '/v1/runs/not-a-run/retry')).status).toBe(404);
    });
  });
});
