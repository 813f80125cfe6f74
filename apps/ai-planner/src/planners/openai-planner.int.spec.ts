import { ToolCallRequest } from '@cronicorn/domain';
import { FakeOpenAI, toolResults } from '../../test/fake-openai';
import { plannerContext } from '../../../../libs/domain/test/planner-context';
import { ToolCallApplier } from '../analysis/tool-call-session';
import {
  MAX_ARGUMENT_CHARS,
  MAX_MESSAGE_CHARS,
  MAX_TOKENS_PER_REQUEST,
  MAX_TOOL_CALLS_PER_ANSWER,
  OpenAIPlanner,
  OpenAIPlannerOptions,
} from './openai-planner';
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

  const plannerWith = (options: Partial<OpenAIPlannerOptions> = {}) =>
    new OpenAIPlanner({
      apiKey: API_KEY,
      baseURL: fake.baseURL,
      model: 'test-model',
      aiMaxPauseMs: 3_600_000,
      requestTimeoutMs: 5_000,
      analysisTimeoutMs: 10_000,
      maxSteps: 2,
      maxRetries: 0,
      ...options,
    });
  const failing = (promise: Promise<unknown>) =>
    promise.then(
      () => {
        throw new Error('the planner did not fail');
      },
      (error: unknown) => {
        expect(error).toBeInstanceOf(PlannerFailure);
        return error as PlannerFailure;
      },
    );

  const failureOf = async (apiKey: string, serverMessage: string, status = 401): Promise<PlannerFailure> => {
    fake.script(context.endpointId, {
      status,
      body: { error: { message: serverMessage, type: 'invalid_request_error' } },
    });
    return failing(plannerWith({ apiKey }).plan(context));
  };

  it("should tell tenants what happened, never the server's text (it names the operator's account)", async () => {
    const failure = await failureOf(
      API_KEY,
      'Rate limit reached for test-model in organization org-operator123 on tokens per min',
      429,
    );
    expect(failure.message).toBe('the LLM server answered HTTP 429 (rate limited or out of quota)');
    expect(failure.detail).toContain('org-operator123');
  });

  it("should keep the API key out of the log's copy of a server's text that echoes it", async () => {
    const failure = await failureOf(API_KEY, `Incorrect API key provided: ${API_KEY}.`);
    expect(failure.message).toBe('the LLM server answered HTTP 401 (it refused the configured credentials)');
    expect(failure.detail).toBe('401 Incorrect API key provided: [REDACTED].');
  });

  it('should leave the text whole for a placeholder key a local server ignores', async () => {
    expect((await failureOf('x', 'Unexpected token x')).detail).toBe('401 Unexpected token x');
  });

  /** The characters of what was sent, a quarter of which is the estimate of its tokens. */
  const sentChars = (endpointId: string) => JSON.stringify(fake.requestsFor(endpointId)[0].messages).length;

  describe('When the server reports no usage', () => {
    it('should charge an estimate of the tokens (the budget must not run dry unnoticed)', async () => {
      const ctx = plannerContext({ endpointId: 'e-no-usage', description: 'd'.repeat(4_000) });
      fake.script(ctx.endpointId, { content: 'No change needed.', usage: null });

      const decision = await plannerWith().plan(ctx);

      expect(decision.tokensIn).toBeGreaterThanOrEqual(Math.ceil(sentChars(ctx.endpointId) / 4));
      expect(decision.tokensOut).toBeGreaterThan(0);
    });
  });

  describe('When a request times out', () => {
    it('should charge the prompt it sent (the provider may have billed it)', async () => {
      const ctx = plannerContext({ endpointId: 'e-timeout-tokens', description: 'd'.repeat(4_000) });
      fake.script(ctx.endpointId, { hang: true });

      const failure = await failing(plannerWith({ requestTimeoutMs: 200 }).plan(ctx));

      expect(failure.reason).toBe('timeout');
      expect(failure.spent.tokensIn).toBeGreaterThanOrEqual(Math.ceil(sentChars(ctx.endpointId) / 4));
    });
  });

  describe('When the server reports a usage no model has', () => {
    it('should charge it capped, so the analysis can be recorded and projected', async () => {
      const ctx = plannerContext({ endpointId: 'e-huge-usage' });
      fake.script(ctx.endpointId, { content: 'No change.', usage: { prompt: 5e9, completion: 1e300 } });

      const decision = await plannerWith().plan(ctx);

      expect(decision.tokensIn).toBe(MAX_TOKENS_PER_REQUEST);
      expect(decision.tokensOut).toBe(MAX_TOKENS_PER_REQUEST);
      expect(MAX_TOKENS_PER_REQUEST * 2 * 10).toBeLessThan(2 ** 31);
    });
  });

  describe('When the server answers with more than an event can hold', () => {
    it("should cut a proxy's error page to a bounded message", async () => {
      const ctx = plannerContext({ endpointId: 'e-html-error' });
      fake.script(ctx.endpointId, {
        status: 502,
        html: `<html><body>${'x'.repeat(2_000_000)}</body></html>`,
      });

      const failure = await failing(plannerWith().plan(ctx));

      expect(failure.message).toBe('the LLM server answered HTTP 502 (the server failed)');
      expect(failure.detail.startsWith('502 <html>')).toBe(true);
      expect(failure.detail.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    });

    it('should cut an endless summary', async () => {
      const ctx = plannerContext({ endpointId: 'e-long-summary' });
      fake.script(ctx.endpointId, { content: 'y'.repeat(500_000) });

      const decision = await plannerWith().plan(ctx);

      expect(decision.summary.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS + 1);
    });

    it('should apply a bounded number of tool calls of one answer, with bounded arguments, and refuse the rest to the model', async () => {
      const ctx = plannerContext({ endpointId: 'e-call-flood' });
      const huge = JSON.stringify({ reason: 'r'.repeat(1_000_000) });
      fake.script(
        ctx.endpointId,
        {
          toolCalls: [
            { name: 'clear_hints', arguments: huge },
            ...Array.from({ length: 200 }, () => ({ name: 'clear_hints', arguments: { reason: 'again' } })),
          ],
        },
        { content: 'Done.' },
      );
      const applied: ToolCallRequest[] = [];
      const applier: ToolCallApplier = {
        apply: async (calls) => {
          applied.push(...calls);
          return calls.map(() => ({ accepted: true, reason: null }));
        },
      };

      const decision = await plannerWith().plan(ctx, applier);

      expect(applied).toHaveLength(MAX_TOOL_CALLS_PER_ANSWER);
      expect(decision.toolCalls).toHaveLength(MAX_TOOL_CALLS_PER_ANSWER);
      expect(String(applied[0].arguments).length).toBeLessThanOrEqual(MAX_ARGUMENT_CHARS);
      const results = toolResults(fake.requestsFor(ctx.endpointId)[1]);
      expect(results).toHaveLength(201);
      expect(results.filter((r) => r.accepted === false)).toHaveLength(201 - MAX_TOOL_CALLS_PER_ANSWER);
      expect(results.at(-1)).toEqual({
        accepted: false,
        rejected: `too many tool calls in one answer (at most ${MAX_TOOL_CALLS_PER_ANSWER})`,
      });
    });
  });
});
