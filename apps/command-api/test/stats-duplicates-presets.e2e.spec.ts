import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from '@cronicorn/event-store';
import {
  AIAnalysisCompleted,
  AIAnalysisFailed,
  Event,
  RunFinished,
  RunStatus,
  streamIds,
} from '@cronicorn/events';
import { bucketIndex, BUCKET_COUNT, DistributionSummary, summarize } from '@cronicorn/read-models';
import { startProjectorFor, waitFor } from './apps';
import { startApi, TestApi } from './harness';
import { JsonResponse, request } from './http';

// Run statistics, duplicate-schedule detection and schedule presets: the real command-api on
// its own database and NATS namespace, with the projector filling the read models. The run
// history is seeded as RunFinished events appended through the store, as a dispatcher would.

type Body = Record<string, unknown>;
const HOUR = 3_600_000;

let api: TestApi;
let stopProjector: () => Promise<void>;
let tenantA: { tenantId: string; apiKey: string };
let tenantB: { tenantId: string; apiKey: string };

beforeAll(async () => {
  api = await startApi({ env: { API_RATE_LIMIT_PER_SECOND: '0' } });
  stopProjector = await startProjectorFor(api);
  tenantA = await api.createTenant('Tenant A');
  tenantB = await api.createTenant('Tenant B');
}, 60_000);

afterAll(async () => {
  await stopProjector?.();
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
const A = () => as(tenantA);
const B = () => as(tenantB);

async function createJob(
  call: ReturnType<typeof as>,
  name = `job-${randomUUID().slice(0, 8)}`,
): Promise<string> {
  return expectStatus(await call<{ id: string }>('POST', '/v1/jobs', { name }), 201).id;
}

interface Written {
  id: string;
  position: string;
}

async function createEndpoint(call: ReturnType<typeof as>, jobId: string, body: Body): Promise<Written> {
  return expectStatus(
    await call<Written>('POST', `/v1/jobs/${jobId}/endpoints`, { name: 'endpoint', ...body }),
    201,
  );
}

/** Until the read models include `position` (GETs with `x-min-position`, each bounded). */
async function caughtUp(position: string): Promise<void> {
  await waitFor(`the read models to reach ${position}`, async () => {
    const res = await A()('GET', '/v1/jobs?limit=1', undefined, { 'x-min-position': position });
    return res.status === 200 && res.headers.get('x-read-model-lagging') === null;
  });
}

//////////////////////////////////////// Stats

interface Stats {
  from: string;
  to: string;
  runs: { total: number; success: number; failed: number; timeout: number; missed: number; skipped: number };
  successRate: number | null;
  latencyMs: DistributionSummary;
  latenessMs: DistributionSummary;
  ai: { analyses: number; failed: number; tokensIn: number; tokensOut: number };
  jobId?: string;
}

/** What the stats must say, computed straight from rm_runs and rm_analyses. */
async function directStats(tenantId: string, from: string, to: string, jobId: string | null) {
  const { rows: runs } = await api.db.pool.query<{
    status: RunStatus;
    duration_ms: number;
    late_ms: string;
    trigger: string;
  }>(
    `SELECT status, duration_ms, late_ms, trigger FROM rm_runs
      WHERE tenant_id = $1 AND started_at >= $2 AND started_at < $3 AND finished_at IS NOT NULL
        AND ($4::text IS NULL OR job_id = $4)`,
    [tenantId, from, to, jobId],
  );
  const { rows: analyses } = await api.db.pool.query<{
    status: string;
    n: string;
    tin: string;
    tout: string;
  }>(
    `SELECT a.status, count(*) AS n, sum(a.tokens_in) AS tin, sum(a.tokens_out) AS tout
       FROM rm_analyses a JOIN rm_endpoints e ON e.endpoint_id = a.endpoint_id
      WHERE a.tenant_id = $1 AND a.at >= $2 AND a.at < $3 AND ($4::text IS NULL OR e.job_id = $4)
      GROUP BY a.status`,
    [tenantId, from, to, jobId],
  );
  const count = (status: RunStatus) => runs.filter((r) => r.status === status).length;
  const completed = analyses.find((a) => a.status === 'completed');
  return {
    runs: {
      total: runs.length,
      success: count('success'),
      failed: count('failed'),
      timeout: count('timeout'),
      missed: 0,
      skipped: 0,
    },
    successRate: runs.length === 0 ? null : count('success') / runs.length,
    latency: runs.map((r) => r.duration_ms),
    lateness: runs.filter((r) => r.trigger === 'schedule').map((r) => Number(r.late_ms)),
    ai: {
      analyses: Number(completed?.n ?? 0),
      failed: Number(analyses.find((a) => a.status === 'failed')?.n ?? 0),
      tokensIn: Number(completed?.tin ?? 0),
      tokensOut: Number(completed?.tout ?? 0),
    },
  };
}

/** The summary the hourly buckets must give for these samples (same buckets, no shortcut). */
function bucketed(samples: number[]): DistributionSummary {
  const buckets = new Array<number>(BUCKET_COUNT).fill(0);
  for (const ms of samples) buckets[bucketIndex(ms)] += 1;
  return summarize({
    count: samples.length,
    sum: samples.reduce((a, b) => a + b, 0),
    min: samples.length ? Math.min(...samples) : null,
    max: samples.length ? Math.max(...samples) : null,
    buckets,
  });
}

/** Nearest-rank percentile of the raw samples. */
function exactPercentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

describe('Stats (GET /v1/stats, GET /v1/jobs/:id/stats)', () => {
  const now = Date.now();
  const hourStart = now - (now % HOUR);
  let jobOne: string;
  let jobTwo: string;
  let lastPosition: string;
  let seeded: number;

  beforeAll(async () => {
    jobOne = await createJob(A(), 'stats one');
    jobTwo = await createJob(A(), 'stats two');
    const e1 = (await createEndpoint(A(), jobOne, { url: 'https://a.example.com/1', intervalMs: 3_600_000 }))
      .id;
    const e2 = (await createEndpoint(A(), jobOne, { url: 'https://a.example.com/2', intervalMs: 3_600_000 }))
      .id;
    const e3 = (await createEndpoint(A(), jobTwo, { url: 'https://a.example.com/3', intervalMs: 3_600_000 }))
      .id;
    const foreignJob = await createJob(B(), 'b');
    const foreign = (
      await createEndpoint(B(), foreignJob, { url: 'https://b.example.com', intervalMs: 3_600_000 })
    ).id;
    const endpoints = [
      { id: e1, jobId: jobOne },
      { id: e2, jobId: jobOne },
      { id: e3, jobId: jobTwo },
    ];

    const store = new PostgresEventStore(api.db.pool);
    const append = async (streamId: string, event: Event, tenantId: string) => {
      const result = await store.append(streamId, [event], { expectedVersion: 0, metadata: { tenantId } });
      lastPosition = result.lastPosition ?? lastPosition;
    };
    const finished = (
      endpoint: { id: string; jobId: string },
      startedAt: number,
      status: RunStatus,
      durationMs: number,
      lateMs: number,
      trigger: 'schedule' | 'manual',
    ): RunFinished => ({
      type: 'RunFinished',
      data: {
        runId: randomUUID(),
        endpointId: endpoint.id,
        jobId: endpoint.jobId,
        status,
        httpStatus: status === 'timeout' ? null : status === 'success' ? 200 : 500,
        durationMs,
        attempts: 1,
        error: status === 'success' ? null : status,
        response: null,
        retryAfterMs: null,
        scheduledFor: new Date(startedAt - lateMs).toISOString(),
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date(startedAt + durationMs).toISOString(),
        trigger,
        retryOf: null,
      },
    });

    // 90 runs over the last six hours (and the current one), spread in status, duration and lateness.
    seeded = 90;
    for (let i = 0; i < seeded; i++) {
      const status: RunStatus = i % 7 === 0 ? 'failed' : i % 11 === 0 ? 'timeout' : 'success';
      const durationMs = 15 + ((i * 7919) % 4_000);
      const startedAt = now - 60_000 - Math.floor((i * 6 * HOUR) / seeded);
      const event = finished(
        endpoints[i % 3],
        startedAt,
        status,
        durationMs,
        (i * 373) % 2_500,
        i % 4 === 0 ? 'manual' : 'schedule',
      );
      await append(streamIds.run(event.data.runId), event, tenantA.tenantId);
    }
    // Outside the default window (three days ago), and another tenant's.
    const old = finished(endpoints[0], now - 72 * HOUR, 'failed', 999, 5, 'schedule');
    await append(streamIds.run(old.data.runId), old, tenantA.tenantId);
    const other = finished({ id: foreign, jobId: foreignJob }, now - HOUR, 'success', 10, 1, 'schedule');
    await append(streamIds.run(other.data.runId), other, tenantB.tenantId);

    const analysis = (endpointId: string, tokensIn: number, at: number): AIAnalysisCompleted => ({
      type: 'AIAnalysisCompleted',
      data: {
        endpointId,
        analysisId: randomUUID(),
        planner: 'ai',
        model: 'test-model',
        tokensIn,
        tokensOut: Math.round(tokensIn / 10),
        toolCalls: [],
        summary: 'fine',
        analyzedAt: new Date(at).toISOString(),
      },
    });
    const failure: AIAnalysisFailed = {
      type: 'AIAnalysisFailed',
      data: {
        endpointId: e3,
        analysisId: randomUUID(),
        model: 'test-model',
        reason: 'timeout',
        error: 'timed out',
        failedAt: new Date(now - 2 * HOUR).toISOString(),
      },
    };
    // One planner stream per endpoint; each gets a single event here.
    await append(streamIds.planner(e1), analysis(e1, 1_200, now - HOUR), tenantA.tenantId);
    await append(streamIds.planner(e2), analysis(e2, 800, now - 3 * HOUR), tenantA.tenantId);
    await append(streamIds.planner(e3), failure, tenantA.tenantId);
    await caughtUp(lastPosition);
  }, 60_000);

  async function expectMatchesReadModels(stats: Stats, jobId: string | null) {
    const direct = await directStats(tenantA.tenantId, stats.from, stats.to, jobId);
    expect(stats.runs).toEqual(direct.runs);
    expect(stats.successRate).toBeCloseTo(direct.successRate ?? NaN, 10);
    expect(stats.latencyMs).toEqual(bucketed(direct.latency));
    expect(stats.latenessMs).toEqual(bucketed(direct.lateness));
    expect(stats.ai).toEqual(direct.ai);
    // Estimates from the buckets stay within one bucket (2^(1/4) ≈ 19 %) of the exact percentile.
    for (const q of [0.5, 0.95, 0.99] as const) {
      const key = `p${Math.round(q * 100)}` as 'p50' | 'p95' | 'p99';
      const exact = exactPercentile(direct.latency, q);
      expect(Math.abs((stats.latencyMs[key] ?? 0) - exact)).toBeLessThanOrEqual(exact * 0.19 + 1);
    }
  }

  it("should give the tenant's last 24 hours by default, equal to a direct count over rm_runs", async () => {
    const stats = expectStatus(
      await A()<Stats>('GET', '/v1/stats', undefined, { 'x-min-position': lastPosition }),
      200,
    );
    expect(stats.to).toBe(new Date(hourStart + HOUR).toISOString());
    // Every hour that overlaps [now − 24 h, now): 25 of them, the current one included.
    expect(stats.from).toBe(new Date(hourStart - 24 * HOUR).toISOString());
    expect(stats.runs.total).toBe(seeded);
    expect(stats.runs.failed).toBeGreaterThan(0);
    expect(stats.runs.timeout).toBeGreaterThan(0);
    expect(stats.ai).toEqual({ analyses: 2, failed: 1, tokensIn: 2_000, tokensOut: 200 });
    await expectMatchesReadModels(stats, null);
  });

  it('should cover the window asked for, in whole hours', async () => {
    const from = new Date(now - 80 * HOUR).toISOString();
    const to = new Date(now).toISOString();
    const stats = expectStatus(await A()<Stats>('GET', `/v1/stats?from=${from}&to=${to}`), 200);
    expect(stats.runs.total).toBe(seeded + 1);
    await expectMatchesReadModels(stats, null);
    const narrow = expectStatus(
      await A()<Stats>('GET', `/v1/stats?from=${new Date(now - 2 * HOUR).toISOString()}&to=${to}`),
      200,
    );
    expect(narrow.runs.total).toBeLessThan(seeded);
    await expectMatchesReadModels(narrow, null);
  });

  it("should give one job's runs only", async () => {
    const stats = expectStatus(await A()<Stats>('GET', `/v1/jobs/${jobOne}/stats`), 200);
    expect(stats.jobId).toBe(jobOne);
    expect(stats.runs.total).toBe(seeded - seeded / 3);
    expect(stats.ai).toEqual({ analyses: 2, failed: 0, tokensIn: 2_000, tokensOut: 200 });
    await expectMatchesReadModels(stats, jobOne);
    const two = expectStatus(await A()<Stats>('GET', `/v1/jobs/${jobTwo}/stats`), 200);
    expect(two.runs.total).toBe(seeded / 3);
    await expectMatchesReadModels(two, jobTwo);
  });

  it("should show another tenant nothing of it, and 404 for a job that is not the caller's", async () => {
    const stats = expectStatus(await B()<Stats>('GET', '/v1/stats'), 200);
    expect(stats.runs.total).toBe(1);
    expect(stats.ai.analyses).toBe(0);
    expect((await B()('GET', `/v1/jobs/${jobOne}/stats`)).status).toBe(404);
    expect((await A()('GET', `/v1/jobs/${randomUUID()}/stats`)).status).toBe(404);
  });

  it.each([
    ['from=yesterday', 'from'],
    ['to=2025-13-01T00:00:00Z', 'to'],
    ['from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z', 'to'],
    ['from=2025-03-01T00:00:00Z&to=2025-03-01T00:00:00Z', 'to'],
    ['from=2025-01-01T00:00:00Z&to=2025-06-01T00:00:00Z', 'from'],
    ['to=2025-06-01T00:00:00Z&from=2024-01-01T00:00:00Z', 'from'],
    ['window=24h', 'window'],
    // The window is widened to whole hours: this one would end in the year 10000.
    ['from=9999-12-31T00:00:00Z&to=9999-12-31T23:30:00Z', 'to'],
  ])('should answer 400 naming %s → %s', async (query, field) => {
    const res = await A()<{ error: string; fields: Body }>('GET', `/v1/stats?${query}`);
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.fields)).toEqual([field]);
    const job = await A()<{ fields: Body }>('GET', `/v1/jobs/${jobOne}/stats?${query}`);
    expect(job.status).toBe(400);
    expect(Object.keys(job.body.fields)).toEqual([field]);
  });

  it('should accept a window of exactly 90 days', async () => {
    const res = await A()<Stats>('GET', '/v1/stats?from=2025-01-01T00:00:00Z&to=2025-04-01T00:00:00Z');
    expect(expectStatus(res, 200).runs.total).toBe(0);
  });
});

//////////////////////////////////////// Duplicates

describe('Duplicate-schedule detection', () => {
  let jobId: string;
  const nightly = {
    method: 'POST',
    url: 'https://hooks.example.com/nightly',
    body: { full: true, region: 'eu' },
    cron: '0 2 * * *',
    timezone: 'Europe/Berlin',
  };
  let original: Written;

  beforeAll(async () => {
    jobId = await createJob(A(), 'duplicates');
    original = await createEndpoint(A(), jobId, nightly);
    await caughtUp(original.position);
  });

  it('should refuse an identical active endpoint in the same job with 409 naming it', async () => {
    const res = await A()<Body>('POST', `/v1/jobs/${jobId}/endpoints`, { ...nightly, name: 'again' });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: 'ENDPOINT.DUPLICATE',
      message: expect.any(String),
      existingId: original.id,
    });
  });

  it('should see through a preset that stands for the same cron, and through body key order', async () => {
    const { cron: _cron, timezone: _zone, ...rest } = nightly;
    const res = await A()<Body>('POST', `/v1/jobs/${jobId}/endpoints`, {
      name: 'preset twin',
      ...rest,
      body: { region: 'eu', full: true },
      schedule: { every: 'day', at: '02:00', timezone: 'Europe/Berlin' },
    });
    expect(res.status).toBe(409);
    expect(res.body.existingId).toBe(original.id);
  });

  it('should create it anyway with allowDuplicate, without storing the flag', async () => {
    const copy = await createEndpoint(A(), jobId, { ...nightly, allowDuplicate: true });
    const shown = await A()<{ config: Body }>('GET', `/v1/endpoints/${copy.id}`, undefined, {
      'x-min-position': copy.position,
    });
    expect(expectStatus(shown, 200).config).not.toHaveProperty('allowDuplicate');
    const { rows } = await api.db.pool.query<{ data: Body }>(
      `SELECT data FROM events WHERE stream_id = $1 AND type = 'EndpointCreated'`,
      [`endpoint-${copy.id}`],
    );
    expect(JSON.stringify(rows[0].data)).not.toContain('allowDuplicate');
  });

  it.each<[string, Body]>([
    ['another body', { body: { full: false } }],
    ['another method', { method: 'PUT' }],
    ['another URL', { url: 'https://hooks.example.com/nightly?x=1' }],
    ['another time zone', { timezone: 'UTC' }],
  ])('should create an endpoint that differs by %s', async (_what, change) => {
    await createEndpoint(A(), jobId, { ...nightly, ...change });
  });

  it('should allow the same request in another job, another tenant, or beside a paused or archived one', async () => {
    await createEndpoint(A(), await createJob(A()), nightly);
    await createEndpoint(B(), await createJob(B()), nightly);

    const quiet = await createJob(A(), 'quiet');
    const paused = await createEndpoint(A(), quiet, nightly);
    const pause = expectStatus(await A()<Written>('POST', `/v1/endpoints/${paused.id}/pause`, {}), 202);
    await caughtUp(pause.position);
    const beside = await createEndpoint(A(), quiet, nightly);
    const archive = expectStatus(await A()<Written>('DELETE', `/v1/endpoints/${beside.id}`), 202);
    await caughtUp(archive.position);
    await createEndpoint(A(), quiet, nightly);
  });

  it('should refuse allowDuplicate that is not a boolean', async () => {
    const res = await A()<{ fields: Body }>('POST', `/v1/jobs/${jobId}/endpoints`, {
      name: 'flag',
      ...nightly,
      allowDuplicate: 'yes',
    });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.fields)).toEqual(['allowDuplicate']);
  });
});

//////////////////////////////////////// Presets

describe('Schedule presets', () => {
  let jobId: string;

  beforeAll(async () => {
    jobId = await createJob(A(), 'presets');
  });

  it('should store a preset as its cron and show both forms', async () => {
    const written = await createEndpoint(A(), jobId, {
      url: 'https://reports.example.com/weekly',
      schedule: { every: 'week', at: '09:30', on: 'Mon', timezone: 'Europe/Berlin' },
    });
    const shown = expectStatus(
      await A()<Body>('GET', `/v1/endpoints/${written.id}`, undefined, {
        'x-min-position': written.position,
      }),
      200,
    );
    expect(shown).toMatchObject({
      cron: '30 9 * * 1',
      timezone: 'Europe/Berlin',
      schedule: { every: 'week', at: '09:30', on: 'mon', timezone: 'Europe/Berlin' },
      config: {
        schedule: {
          kind: 'cron',
          cron: '30 9 * * 1',
          timezone: 'Europe/Berlin',
          preset: { every: 'week', at: '09:30', on: 'mon' },
        },
      },
    });

    const moved = expectStatus(
      await A()<Written>('PATCH', `/v1/endpoints/${written.id}`, { timezone: 'Asia/Tokyo' }),
      202,
    );
    const afterMove = await A()<Body>('GET', `/v1/endpoints/${written.id}`, undefined, {
      'x-min-position': moved.position,
    });
    expect(afterMove.body).toMatchObject({
      cron: '30 9 * * 1',
      schedule: { every: 'week', at: '09:30', on: 'mon', timezone: 'Asia/Tokyo' },
    });

    const monthly = expectStatus(
      await A()<Written>('PATCH', `/v1/endpoints/${written.id}`, {
        schedule: { every: 'month', at: '06:15', on: 1, timezone: 'UTC' },
      }),
      202,
    );
    const afterMonthly = await A()<Body>('GET', `/v1/endpoints/${written.id}`, undefined, {
      'x-min-position': monthly.position,
    });
    expect(afterMonthly.body).toMatchObject({
      cron: '15 6 1 * *',
      schedule: { every: 'month', at: '06:15', on: 1 },
    });

    const recron = expectStatus(
      await A()<Written>('PATCH', `/v1/endpoints/${written.id}`, { cron: '0 7 * * *' }),
      202,
    );
    const afterCron = await A()<Body>('GET', `/v1/endpoints/${written.id}`, undefined, {
      'x-min-position': recron.position,
    });
    expect(afterCron.body).toMatchObject({ cron: '0 7 * * *', timezone: 'UTC', schedule: null });
  });

  it.each<[Body, string[]]>([
    [{ schedule: { every: 'day', at: '25:00', timezone: 'UTC' } }, ['schedule.at']],
    [{ schedule: { every: 'fortnight', at: '10:00', timezone: 'UTC' } }, ['schedule.every']],
    [{ schedule: { every: 'week', at: '10:00', timezone: 'UTC' } }, ['schedule.on']],
    [{ schedule: { every: 'month', at: '10:00', on: 32, timezone: 'UTC' } }, ['schedule.on']],
    [{ schedule: { every: 'day', at: '10:00', timezone: 'Moon/Base' } }, ['schedule.timezone']],
    [{ schedule: { every: 'day', at: '10:00' } }, ['schedule.timezone']],
    [
      { schedule: { every: 'day', at: '10:00', timezone: 'UTC' }, intervalMs: 60_000 },
      ['intervalMs', 'schedule'],
    ],
    [{ schedule: { every: 'day', at: '10:00', timezone: 'UTC' }, timezone: 'UTC' }, ['schedule', 'timezone']],
  ])('should refuse %j naming %j', async (body, fields) => {
    const res = await A()<{ fields: Body }>('POST', `/v1/jobs/${jobId}/endpoints`, {
      name: 'bad',
      url: 'https://reports.example.com/bad',
      ...body,
    });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.fields).sort()).toEqual(fields);
  });
});

//////////////////////////////////////// Swagger

describe('Swagger', () => {
  it('should document the new routes and fields', async () => {
    const res = await request<{
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    }>(api.url, 'GET', '/docs-json');
    const doc = expectStatus(res, 200);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/triggers/{name}',
        '/v1/runs/{id}/retry',
        '/v1/stats',
        '/v1/jobs/{id}/stats',
      ]),
    );
    expect(doc.paths['/v1/triggers/{name}'].post.responses).toHaveProperty('202');
    expect(doc.paths['/v1/runs/{id}/retry'].post.responses).toHaveProperty('202');
    expect(doc.paths['/v1/stats'].get.responses).toHaveProperty('400');
    expect(JSON.stringify(doc.paths['/v1/jobs/{jobId}/endpoints'].post.responses['409'])).toContain(
      'DuplicateEndpointResponseDto',
    );
    expect(doc.components.schemas.CreateEndpointRequestDto.properties).toHaveProperty('allowDuplicate');
    expect(doc.components.schemas.CreateEndpointRequestDto.properties).toHaveProperty('schedule');
    expect(doc.components.schemas.EndpointResponseDto.properties).toHaveProperty('schedule');
    expect(doc.components.schemas.FireTriggerAnswerDto.properties).toHaveProperty('skipped');
    expect(doc.components.schemas.StatsResponseDto.properties).toHaveProperty('latenessMs');
  });
});
