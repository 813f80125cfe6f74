import { randomUUID } from 'node:crypto';
import type { Subscription } from '@nats-io/nats-core';
import { plannerAnalyzeSubject, streamIds } from '@cronicorn/events';
import { PostgresEventStore } from '@cronicorn/event-store';
import { silentLogger } from '@cronicorn/messaging';
import { loadConfig, SystemClock } from '@cronicorn/platform';
import { AiPlanner } from '../../../ai-planner/src/ai-planner';
import { aiPlannerOptions } from '../../../ai-planner/src/ai-planner.options';
import { ProjectorRunner } from '../../../projector/src/projector.runner';
import { startApi, TestApi } from '../../test/harness';
import { request } from '../../test/http';
import { PlannerClient } from './planner-client';

describe('POST /v1/endpoints/:id/analyze', () => {
  let api: TestApi;
  let apiKey: string;
  let endpointId: string;
  let planner: AiPlanner | null = null;
  let projector: ProjectorRunner;

  beforeAll(async () => {
    api = await startApi();
    ({ apiKey } = await api.createTenant());
    const job = await request<{ id: string }>(api.url, 'POST', '/v1/jobs', {
      apiKey,
      body: { name: 'imports' },
    });
    const endpoint = await request<{ id: string }>(api.url, 'POST', `/v1/jobs/${job.body.id}/endpoints`, {
      apiKey,
      body: { name: 'queue', url: 'https://example.com/queue', intervalMs: 60_000 },
    });
    expect(endpoint.status).toBe(201);
    endpointId = endpoint.body.id;
    projector = new ProjectorRunner({
      pool: api.db.pool,
      store: new PostgresEventStore(api.db.pool),
      logger: silentLogger,
    });
    projector.start();
  });
  afterAll(async () => {
    await planner?.stop();
    await projector?.stop();
    await api?.close();
  });

  const analyze = (id: string, key = apiKey) =>
    request<Record<string, unknown>>(api.url, 'POST', `/v1/endpoints/${id}/analyze`, { apiKey: key });

  it('should answer 503 while no ai-planner is running', async () => {
    const res = await analyze(endpointId);
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('ANALYSIS.NO_PLANNER');
  });

  it('should answer 504 when no ai-planner answers in time', async () => {
    const client = api.app.get(PlannerClient);
    const silent: Subscription = api.nats.nc.subscribe(plannerAnalyzeSubject(api.nats.names), {
      queue: 'ai-planner',
      callback: () => undefined,
    });
    client.timeoutMs = 300;
    try {
      const res = await analyze(endpointId);
      expect(res.status).toBe(504);
      expect(res.body.error).toBe('ANALYSIS.TIMEOUT');
    } finally {
      silent.unsubscribe();
      client.timeoutMs = 30_000;
    }
  });

  it('should answer 409 for an archived endpoint and for one of an archived job, as the other commands do', async () => {
    const job = await request<{ id: string }>(api.url, 'POST', '/v1/jobs', { apiKey, body: { name: 'old' } });
    const create = () =>
      request<{ id: string }>(api.url, 'POST', `/v1/jobs/${job.body.id}/endpoints`, {
        apiKey,
        body: { name: 'old', url: `https://example.com/${randomUUID()}`, intervalMs: 60_000 },
      });
    const archived = (await create()).body.id;
    const ofArchivedJob = (await create()).body.id;
    expect((await request(api.url, 'DELETE', `/v1/endpoints/${archived}`, { apiKey })).status).toBe(202);
    expect((await request(api.url, 'DELETE', `/v1/jobs/${job.body.id}`, { apiKey })).status).toBe(202);

    const endpoint = await analyze(archived);
    expect({ status: endpoint.status, error: endpoint.body.error }).toEqual({
      status: 409,
      error: 'ENDPOINT.ARCHIVED',
    });
    const ofJob = await analyze(ofArchivedJob);
    expect({ status: ofJob.status, error: ofJob.body.error }).toEqual({ status: 409, error: 'JOB.ARCHIVED' });
  });

  describe('When an ai-planner runs', () => {
    beforeAll(async () => {
      const { nc, js, names } = api.nats;
      planner = new AiPlanner({
        pool: api.db.pool,
        store: new PostgresEventStore(api.db.pool),
        nc,
        js,
        names,
        clock: new SystemClock(),
        options: aiPlannerOptions(loadConfig('ai-planner', {})),
        logger: silentLogger,
      });
      planner.start();
    });

    it('should run one analysis now and answer 201 with it; GET …/analyses lists it', async () => {
      const res = await analyze(endpointId);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        id: expect.any(String),
        analysisId: res.body.id,
        position: expect.stringMatching(/^\d+$/),
        status: 'completed',
        planner: 'heuristic',
        model: 'heuristic',
        tokensIn: 0,
        tokensOut: 0,
        toolCalls: [],
        failureReason: null,
      });
      expect(res.headers.get('x-position')).toBe(res.body.position);

      const [event] = await new PostgresEventStore(api.db.pool).readStream(streamIds.planner(endpointId));
      expect(event).toMatchObject({ type: 'AIAnalysisCompleted', position: res.body.position });
      expect(event.metadata).toMatchObject({ actor: 'ai-planner', correlationId: expect.any(String) });

      const list = await request<{ items: Array<{ id: string; planner: string }> }>(
        api.url,
        'GET',
        `/v1/endpoints/${endpointId}/analyses`,
        { apiKey, headers: { 'x-min-position': String(res.body.position) } },
      );
      expect(list.status).toBe(200);
      expect(list.body.items).toEqual([expect.objectContaining({ id: res.body.id, planner: 'heuristic' })]);
    });

    it("should answer 404 for an unknown endpoint and for another tenant's", async () => {
      expect((await analyze(randomUUID())).status).toBe(404);
      const other = await api.createTenant('other');
      const res = await analyze(endpointId, other.apiKey);
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('ENDPOINT.NOT_FOUND');
    });
  });
});
