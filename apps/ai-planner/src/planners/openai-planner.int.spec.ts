import { FakeOpenAI } from '../../test/fake-openai';
import { plannerContext } from '../../test/planner-context';
import { OpenAIPlanner } from './openai-planner';
import { PlannerFailure } from './planner-failure';

const API_KEY = 'sk-test-0123456789abcdefghijklmnop';

const context = plannerContext({ endpointId: 'e-echoed-key' });

describe('OpenAIPlanner against an OpenAI-compatible server on loopback', () => {
  let fake: FakeOpenAI;

  beforeAll(async () => {
    fake = await FakeOpenAI.start();
  });

  afterAll(async () => {
    await fake?.close();
  });

  const failureOf = async (apiKey: string, serverMessage: string): Promise<string> => {
    fake.script(context.endpointId, {
      status: 401,
      body: { error: { message: serverMessage, type: 'invalid_request_error' } },
    });
    const planner = new OpenAIPlanner({
      apiKey,
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
    return (failure as PlannerFailure).message;
  };

  it('should keep the API key out of the failure a server echoing it causes (tenants see that message)', async () => {
    expect(await failureOf(API_KEY, `Incorrect API key provided: ${API_KEY}.`)).toBe(
      'HTTP 401: 401 Incorrect API key provided: [REDACTED].',
    );
  });

  it('should leave the message whole for a placeholder key a local server ignores', async () => {
    expect(await failureOf('x', 'Unexpected token x')).toBe('HTTP 401: 401 Unexpected token x');
  });
});
