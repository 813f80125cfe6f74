import { randomUUID } from 'node:crypto';
import {
  AIAnalysisCompleted,
  AIAnalysisFailed,
  AIHintProposed,
  AnalyzeReply,
  NextRunPlanned,
  plannerAnalyzeSubject,
} from '@cronicorn/events';
import { getEndpoint, listAnalyses } from '@cronicorn/read-models';
import { FakeOpenAI, toolResults } from '../test/fake-openai';
import { PlannerWorld, waitFor } from '../test/world';

jest.setTimeout(60_000);

const MINUTE = 60_000;
const completedData = (e: { type: string; data: unknown }) => {
  expect(e.type).toBe('AIAnalysisCompleted');
  return e.data as AIAnalysisCompleted['data'];
};
const failedData = (e: { type: string; data: unknown }) => {
  expect(e.type).toBe('AIAnalysisFailed');
  return e.data as AIAnalysisFailed['data'];
};

/** A world whose LLM is a fake OpenAI-compatible server, with a daily token budget of `budget`. */
function withBudgetedLlm(budget: string): { fake: FakeOpenAI; world: PlannerWorld } {
  const suite = {} as { fake: FakeOpenAI; world: PlannerWorld };
  beforeAll(async () => {
    suite.fake = await FakeOpenAI.start();
    suite.world = await PlannerWorld.create({
      env: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: suite.fake.baseURL,
        AI_MODEL: 'test-model',
        AI_DAILY_TOKEN_BUDGET: budget,
      },
    });
  });
  afterAll(async () => {
    await suite.world?.close();
    await suite.fake?.close();
  });
  return suite;
}
const inMinutes = (minutes: number) => new Date(Date.now() + minutes * MINUTE).toISOString();

describe('AI planner with an OpenAI-compatible server', () => {
  let fake: FakeOpenAI;
  let world: PlannerWorld;
  let jobId: string;

  beforeAll(async () => {
    fake = await FakeOpenAI.start();
    world = await PlannerWorld.create({
      env: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: fake.baseURL,
        AI_MODEL: 'test-model',
        AI_ANALYSIS_INTERVAL_MS: String(10 * MINUTE),
        AI_MAX_PAUSE_MS: String(2 * 60 * MINUTE),
        AI_DAILY_TOKEN_BUDGET: '1000000',
      },
      planner: { llmTimeoutMs: 1_000, analysisTimeoutMs: 5_000 },
      scheduler: true,
    });
    jobId = await world.createJob();
  });
  afterAll(async () => {
    await world?.close();
    await fake?.close();
  });

  describe('When a run finishes', () => {
    it('should analyse the endpoint, propose the hint through the decider, feed the verdict back, and let the hint expire', async () => {
      const endpointId = await world.createEndpoint(jobId, {
        minIntervalMs: 2_000,
        maxIntervalMs: 10 * MINUTE,
      });
      fake.script(
        endpointId,
        {
          toolCalls: [
            {
              name: 'propose_interval',
              arguments: { intervalMs: 1_000, ttlMinutes: 0.1, reason: 'backlog of 500 items is draining' },
            },
          ],
          usage: { prompt: 300, completion: 40 },
        },
        { content: 'Polling faster while the backlog drains.', usage: { prompt: 350, completion: 15 } },
      );
      const finished = await world.finishRun(endpointId, jobId, 'success', { body: { queue_depth: 500 } });

      const analysis = await world.analysis(endpointId);
      const data = completedData(analysis);
      expect(data).toMatchObject({
        planner: 'ai',
        model: 'test-model',
        tokensIn: 650,
        tokensOut: 55,
        summary: 'Polling faster while the backlog drains.',
      });
      expect(data.toolCalls).toEqual([
        expect.objectContaining({
          name: 'propose_interval',
          accepted: true,
          reason: 'clamped from 1000 to 2000',
        }),
      ]);
      expect(analysis.metadata).toMatchObject({
        actor: 'ai-planner',
        correlationId: finished.metadata.correlationId,
        causationId: finished.id,
      });

      const hints = (await world.endpointEvents(endpointId)).filter((e) => e.type === 'AIHintProposed');
      expect(hints).toHaveLength(1);
      const hint = hints[0].data as AIHintProposed['data'];
      expect(hint).toMatchObject({
        kind: 'interval',
        value: 2_000,
        requested: 1_000,
        source: 'ai',
        model: 'test-model',
      });
      expect(Date.parse(hint.expiresAt) - Date.parse(hint.proposedAt)).toBe(6_000);
      expect(hints[0].metadata).toMatchObject({
        actor: 'ai-planner',
        correlationId: finished.metadata.correlationId,
      });

      // The model saw the run and, in round two, the decider's verdict on its call.
      const requests = fake.requestsFor(endpointId);
      expect(requests).toHaveLength(2);
      expect(requests[0].tools?.map((t) => t.function.name).sort()).toEqual([
        'clear_hints',
        'pause_until',
        'propose_interval',
        'propose_next_time',
      ]);
      expect(requests[0].messages[1].content).toContain('queue_depth');
      expect(toolResults(requests[1])).toEqual([{ accepted: true, note: 'clamped from 1000 to 2000' }]);

      // The scheduler plans by the hint...
      await waitFor(async () => {
        const plans = (await world.scheduleEvents(endpointId)).filter(
          (e) => e.type === 'NextRunPlanned' && BigInt(e.position) > BigInt(hints[0].position),
        );
        return plans.some((e) => (e.data as NextRunPlanned['data']).reason.startsWith('hint'));
      }, 'a plan that follows the hint');

      // ...until it expires: no event removes it, it is simply no longer active.
      expect(await world.activeHintsNow(endpointId)).toHaveLength(1);
      await waitFor(async () => (await world.activeHintsNow(endpointId)).length === 0, 'the hint to expire');
      const view = await getEndpoint(world.db.pool, world.tenantId, endpointId);
      expect(view?.activeHints).toEqual([]);
      expect(view?.lastAnalysis).toMatchObject({ planner: 'ai', model: 'test-model', status: 'completed' });
    });
  });

  describe('When the model calls tools wrongly', () => {
    it('should reject each invalid call with its reason, tell the model, and change nothing', async () => {
      const endpointId = await world.createEndpoint(jobId, {
        minIntervalMs: 30_000,
        maxIntervalMs: 5 * MINUTE,
      });
      const versionBefore = (await world.endpointEvents(endpointId)).length;
      fake.script(
        endpointId,
        () => ({
          toolCalls: [
            {
              name: 'propose_next_time',
              arguments: { at: inMinutes(-5), ttlMinutes: 30, reason: 'check again' },
            },
            { name: 'delete_endpoint', arguments: { reason: 'not a tool' } },
            { name: 'propose_interval', arguments: '{"intervalMs": 5000, "ttlMinutes": ' },
            { name: 'propose_interval', arguments: { intervalMs: 60_000, ttlMinutes: 30 } },
            {
              name: 'propose_interval',
              arguments: { intervalMs: 60_000, ttlMinutes: -5, reason: 'negative life' },
            },
          ],
        }),
        { content: 'Nothing to change after all.' },
      );
      await world.finishRun(endpointId, jobId, 'success');

      const data = completedData(await world.analysis(endpointId));
      expect(data.toolCalls.map((c) => c.accepted)).toEqual([false, false, false, false, false]);
      const reasons = data.toolCalls.map((c) => c.reason ?? '');
      expect(reasons[0]).toMatch(/in the future/);
      expect(reasons[1]).toMatch(/unknown tool "delete_endpoint"/);
      expect(reasons[2]).toMatch(/not valid JSON/);
      expect(reasons[3]).toMatch(/reason is required/);
      expect(reasons[4]).toMatch(/ttlMinutes/);
      expect(data.toolCalls[1]).toMatchObject({ name: 'delete_endpoint', arguments: expect.anything() });

      expect(toolResults(fake.requestsFor(endpointId)[1])).toEqual(
        reasons.map((reason) => ({ accepted: false, rejected: reason })),
      );
      expect(await world.endpointEvents(endpointId)).toHaveLength(versionBefore);
      expect(world.metrics.skipped).toEqual([]);
    });

    it("should clamp an interval to the endpoint's bounds and a pause to AI_MAX_PAUSE_MS", async () => {
      const endpointId = await world.createEndpoint(jobId, {
        minIntervalMs: 30_000,
        maxIntervalMs: 5 * MINUTE,
      });
      fake.script(
        endpointId,
        () => ({
          toolCalls: [
            {
              name: 'propose_interval',
              arguments: { intervalMs: 1_000, ttlMinutes: 30, reason: 'hammer it' },
            },
            {
              name: 'pause_until',
              arguments: { until: inMinutes(30 * 24 * 60), reason: 'target retired for a month' },
            },
          ],
        }),
        { content: 'Clamped.' },
      );
      await world.finishRun(endpointId, jobId, 'failed');

      const data = completedData(await world.analysis(endpointId));
      expect(data.toolCalls.map((c) => c.accepted)).toEqual([true, true]);
      expect(data.toolCalls[0].reason).toBe('clamped from 1000 to 30000');
      expect(data.toolCalls[1].reason).toMatch(/^clamped from /);

      const hints = (await world.endpointEvents(endpointId))
        .filter((e) => e.type === 'AIHintProposed')
        .map((e) => e.data as AIHintProposed['data']);
      expect(hints.map((h) => h.kind)).toEqual(['interval', 'pause']);
      expect(hints[0]).toMatchObject({ value: 30_000, requested: 1_000 });
      const pause = hints[1];
      expect(Date.parse(pause.value as string) - Date.parse(pause.proposedAt)).toBe(2 * 60 * MINUTE);
      expect(pause.expiresAt).toBe(pause.value);
    });
  });

  describe('When the model keeps calling tools', () => {
    it('should stop after the step cap and record the calls it made', async () => {
      const endpointId = await world.createEndpoint(jobId);
      const clear = { toolCalls: [{ name: 'clear_hints', arguments: { reason: 'again' } }] };
      fake.script(endpointId, clear, clear, clear, clear);
      await world.finishRun(endpointId, jobId, 'success');

      const data = completedData(await world.analysis(endpointId));
      expect(fake.requestsFor(endpointId)).toHaveLength(3);
      expect(data.toolCalls).toHaveLength(3);
      expect(data.toolCalls.every((c) => c.accepted && c.reason === 'no change')).toBe(true);
      expect(data.summary).toBe('3 tool call(s): clear_hints, clear_hints, clear_hints');
    });
  });

  describe('When the LLM fails', () => {
    it('should record AIAnalysisFailed for an error, a hang and a malformed answer, and still analyse the others', async () => {
      const erroring = await world.createEndpoint(jobId);
      const hanging = await world.createEndpoint(jobId);
      const malformed = await world.createEndpoint(jobId);
      const healthy = await world.createEndpoint(jobId, { minIntervalMs: 10_000 });
      fake.script(erroring, { status: 500 });
      fake.script(hanging, { hang: true });
      fake.script(malformed, { raw: { id: 'x', object: 'chat.completion', choices: [] } });
      fake.script(
        healthy,
        {
          toolCalls: [
            { name: 'propose_interval', arguments: { intervalMs: 30_000, ttlMinutes: 10, reason: 'busy' } },
          ],
        },
        { content: 'Tightened.' },
      );
      const versions = await Promise.all(
        [erroring, hanging, malformed].map(async (id) => (await world.endpointEvents(id)).length),
      );
      await Promise.all(
        [erroring, hanging, malformed, healthy].map((id) => world.finishRun(id, jobId, 'failed')),
      );

      expect(failedData(await world.analysis(erroring))).toMatchObject({
        reason: 'error',
        model: 'test-model',
        error: 'the LLM server answered HTTP 500 (the server failed)',
      });
      expect(failedData(await world.analysis(hanging))).toMatchObject({ reason: 'timeout' });
      expect(failedData(await world.analysis(malformed))).toMatchObject({ reason: 'malformed' });
      expect(completedData(await world.analysis(healthy)).toolCalls).toEqual([
        expect.objectContaining({ accepted: true }),
      ]);

      const after = await Promise.all(
        [erroring, hanging, malformed].map(async (id) => (await world.endpointEvents(id)).length),
      );
      expect(after).toEqual(versions);
      expect([...world.metrics.skipped].sort()).toEqual(['error', 'malformed', 'timeout']);

      // The failure is visible through the read model.
      await waitFor(
        async () => (await listAnalyses(world.db.pool, world.tenantId, hanging)).items.length === 1,
        'the failed analysis in the read model',
      );
      const [view] = (await listAnalyses(world.db.pool, world.tenantId, hanging)).items;
      expect(view).toMatchObject({ status: 'failed', failureReason: 'timeout', planner: 'ai' });
    });
  });

  describe('When runs keep finishing', () => {
    it('should debounce a healthy endpoint and re-analyse at once when it starts failing', async () => {
      const endpointId = await world.createEndpoint(jobId);
      await world.finishRun(endpointId, jobId, 'success');
      await world.analysis(endpointId, 1);

      await world.finishRun(endpointId, jobId, 'success');
      await waitFor(
        async () => Number((await world.queueRow(endpointId))?.requests) === 2,
        'the second request',
      );
      const row = await world.queueRow(endpointId);
      const analysedAt = (row?.last_analyzed_at as Date).getTime();
      expect((row?.due_at as Date).getTime()).toBe(analysedAt + 10 * MINUTE);
      expect(await world.plannerEvents(endpointId)).toHaveLength(1);

      await world.finishRun(endpointId, jobId, 'failed');
      await world.analysis(endpointId, 2);
      expect(fake.requestsFor(endpointId)).toHaveLength(2);
      const after = await world.queueRow(endpointId);
      expect(after).toMatchObject({ failure_streak: 1, analyzed_failure_streak: 1, due_at: null });
    });
  });

  describe('When asked over NATS to analyse now', () => {
    it('should answer with the recorded analysis, and refuse an endpoint of another tenant', async () => {
      const endpointId = await world.createEndpoint(jobId);
      fake.script(endpointId, { content: 'Healthy: no change.', usage: { prompt: 10, completion: 5 } });
      const correlationId = randomUUID();
      const subject = plannerAnalyzeSubject(world.nats.names);
      const msg = await world.nats.nc.request(
        subject,
        JSON.stringify({ tenantId: world.tenantId, endpointId, correlationId }),
        { timeout: 10_000 },
      );
      const reply = msg.json<AnalyzeReply>();
      if (!reply.ok) throw new Error(reply.error.message);
      expect(reply.analysis).toMatchObject({
        status: 'completed',
        planner: 'ai',
        tokensIn: 10,
        tokensOut: 5,
        toolCalls: [],
        summary: 'Healthy: no change.',
      });
      const [event] = await world.plannerEvents(endpointId);
      expect(event.position).toBe(reply.analysis.position);
      expect(event.metadata.correlationId).toBe(correlationId);

      const other = await world.nats.nc.request(
        subject,
        JSON.stringify({ tenantId: randomUUID(), endpointId, correlationId }),
        { timeout: 10_000 },
      );
      expect(other.json<AnalyzeReply>()).toEqual({
        ok: false,
        error: { code: 'ENDPOINT.NOT_FOUND', message: 'Endpoint not found' },
      });
    });
  });
});

describe('AI planner over its daily token budget', () => {
  const suite = withBudgetedLlm('500');

  it('should switch to the heuristic planner and say so on the endpoint', async () => {
    const { fake, world } = suite;
    const jobId = await world.createJob();
    const first = await world.createEndpoint(jobId);
    const second = await world.createEndpoint(jobId);
    fake.script(first, { content: 'No change.', usage: { prompt: 450, completion: 100 } });
    await world.finishRun(first, jobId, 'success');
    expect(completedData(await world.analysis(first))).toMatchObject({ planner: 'ai', tokensIn: 450 });

    await world.finishRun(second, jobId, 'success');
    const data = completedData(await world.analysis(second));
    expect(data).toMatchObject({ planner: 'heuristic', model: 'heuristic', tokensIn: 0, tokensOut: 0 });
    expect(data.summary).toMatch(/budget exhausted \(550 of 500 tokens/);
    expect(fake.requestsFor(second)).toHaveLength(0);
    expect(world.metrics.budgetExhausted).toBe(1);

    await waitFor(
      async () =>
        (await getEndpoint(world.db.pool, world.tenantId, second))?.lastAnalysis?.planner === 'heuristic',
      'the heuristic analysis on the endpoint',
    );
    const [analysis] = (await listAnalyses(world.db.pool, world.tenantId, second)).items;
    expect(analysis.summary).toMatch(/budget exhausted/);
  });
});

describe('AI planner analysing several endpoints of a tenant at once near its budget', () => {
  const suite = withBudgetedLlm('500');

  it('should let only as many LLM analyses start as the budget has room for', async () => {
    const { fake, world } = suite;
    const jobId = await world.createJob();
    const endpoints = [await world.createEndpoint(jobId), await world.createEndpoint(jobId)];
    for (const endpointId of endpoints) {
      fake.script(endpointId, { content: 'No change.', usage: { prompt: 450, completion: 0 }, delayMs: 800 });
    }
    await Promise.all(endpoints.map((endpointId) => world.finishRun(endpointId, jobId, 'success')));

    const planners = await Promise.all(
      endpoints.map(async (endpointId) => completedData(await world.analysis(endpointId)).planner),
    );
    expect(planners.sort()).toEqual(['ai', 'heuristic']);
  });
});

describe('AI planner whose LLM answers with usage but nothing usable', () => {
  const suite = withBudgetedLlm('500');

  it('should still charge the tokens it reported against the budget', async () => {
    const { fake, world } = suite;
    const jobId = await world.createJob();
    const first = await world.createEndpoint(jobId);
    const second = await world.createEndpoint(jobId);
    fake.script(first, {
      raw: {
        id: 'x',
        object: 'chat.completion',
        choices: [],
        usage: { prompt_tokens: 600, completion_tokens: 0, total_tokens: 600 },
      },
    });
    await world.finishRun(first, jobId, 'success');
    expect(failedData(await world.analysis(first))).toMatchObject({
      reason: 'malformed',
      tokensIn: 600,
      tokensOut: 0,
    });
    // Reported once the analysis committed, which is when the test may already see it.
    await waitFor(() => world.metrics.tokens.in > 0, 'the tokens to be reported');
    expect(world.metrics.tokens).toEqual({ in: 600, out: 0 });

    await world.finishRun(second, jobId, 'success');
    const data = completedData(await world.analysis(second));
    expect(data).toMatchObject({ planner: 'heuristic' });
    expect(data.summary).toMatch(/budget exhausted \(600 of 500 tokens/);
    expect(fake.requestsFor(second)).toHaveLength(0);
  });
});

describe('AI planner whose LLM reports no usage', () => {
  const suite = withBudgetedLlm('500');

  it('should charge an estimate against the budget, so the budget still runs out', async () => {
    const { fake, world } = suite;
    const jobId = await world.createJob();
    const first = await world.createEndpoint(jobId);
    const second = await world.createEndpoint(jobId);
    fake.script(first, { content: 'No change.', usage: null });
    await world.finishRun(first, jobId, 'success');
    const data = completedData(await world.analysis(first));
    expect(data.planner).toBe('ai');
    expect(data.tokensIn).toBeGreaterThan(500);

    await world.finishRun(second, jobId, 'success');
    expect(completedData(await world.analysis(second)).planner).toBe('heuristic');
    expect(fake.requestsFor(second)).toHaveLength(0);
  });
});

describe('AI planner without an API key', () => {
  let world: PlannerWorld;

  beforeAll(async () => {
    world = await PlannerWorld.create({ env: {} });
  });
  afterAll(() => world?.close());

  it('should run the heuristic planner through the same loop and decider', async () => {
    const jobId = await world.createJob();
    const endpointId = await world.createEndpoint(jobId, { minIntervalMs: 5_000 });
    await world.finishRun(endpointId, jobId, 'success', { body: { queue_depth: 900 } });
    const data = completedData(await world.analysis(endpointId));
    expect(data).toMatchObject({ planner: 'heuristic', model: 'heuristic', tokensIn: 0, tokensOut: 0 });
    expect(world.planner.usesLlm).toBe(false);
    const hints = (await world.endpointEvents(endpointId)).filter((e) => e.type === 'AIHintProposed');
    expect(hints.length).toBe(data.toolCalls.filter((c) => c.accepted && c.name !== 'clear_hints').length);
    for (const hint of hints) expect(hint.data).toMatchObject({ source: 'heuristic', model: null });
  });
});
