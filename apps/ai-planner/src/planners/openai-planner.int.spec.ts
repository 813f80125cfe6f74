import { PlannerContext } from '@cronicorn/domain';
import { FakeOpenAI } from '../../test/fake-openai';
import { OpenAIPlanner } from './openai-planner';
import { PlannerFailure } from './planner-failure';

const API_KEY = 'sk-test-0123456789abcdefghijklmnop';

const context: PlannerContext = {
  endpointId: 'e-echoed-key',
  jobId: 'j1',
  name: 'status',
  description: null,
  request: { method: 'GET', url: 'https://target.example/status' },
  schedule: { kind: 'interval', intervalMs: 60_000 },
  bounds: { minIntervalMs: null, maxIntervalMs: null, startAt: null, endAt: null, pauseAfterFailures: null },
  activeHints: [],
  siblings: [],
  recentRuns: [],
  health: {
    failureStreak: 0,
    successRate1h: 1,
    successRate24h: 1,
    latency1h: { runs: 60, p50Ms: 100, p95Ms: 120 },
    latency24h: { runs: 1440, p50Ms: 100, p95Ms: 120 },
  },
  nextRunAt: null,
  now: '2025-01-01T00:00:00.000Z',
};

describe('OpenAIPlanner against an OpenAI-compatible server on loopback', () => {
  let fake: FakeOpenAI;

  beforeAll(async () => {
    fake = await FakeOpenAI.start();
  });

  afterAll(async () => {
    await fake?.close();
  });

  it('should keep the API key out of the failure a server echoing it causes (tenants see that message)', async () => {
    fake.script(context.endpointId, {
      status: 401,
      body: { error: { message: `Incorrect API key provided: ${API_KEY}.`, type: 'invalid_request_error' } },
    });
    const planner = new OpenAIPlanner({
      apiKey: API_KEY,
      baseURL: fake.baseURL,
      model: 'test-model',
      aiMaxPauseMs: 3_600_000,
      requestTimeoutMs: 5_000,
      analysisTimeoutMs: 10_000,
      maxSteps: 2,
      maxRetries: 0,
    });

    const failure = await planner.plan(context).then(
      () => null,
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(PlannerFailure);
    expect((failure as PlannerFailure).message).toBe('HTTP 401: 401 Incorrect API key provided: [REDACTED].');
  });
});
