import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import {
  Planner,
  PLANNER_TOOL_DEFINITIONS,
  PlannerContext,
  PlannerDecision,
  ToolCallRequest,
} from '@cronicorn/domain';
import { ToolCallApplier, ToolCallOutcome } from '../analysis/tool-call-session';
import { PlannerFailure, PlannerFailureReason } from './planner-failure';
import { DEFAULT_PROMPT_LIMITS, PromptLimits, systemPrompt, userPrompt } from './prompt';

/** A planner that can apply its calls as it goes and hear back (the LLM's tool results). */
export interface InteractivePlanner extends Planner {
  plan(context: PlannerContext, applier?: ToolCallApplier): Promise<PlannerDecision>;
}

export interface OpenAIPlannerOptions {
  apiKey: string;
  /** `OPENAI_BASE_URL`: any OpenAI-compatible server (vLLM, Ollama, llama.cpp). */
  baseURL: string | null;
  model: string;
  /** `AI_MAX_PAUSE_MS`, told to the model. */
  aiMaxPauseMs: number;
  /** Per request. */
  requestTimeoutMs: number;
  /** For the whole analysis, every round included. */
  analysisTimeoutMs: number;
  /** Rounds of model calls; tool results are fed back between rounds. */
  maxSteps: number;
  /** Retries of one request by the client (connection errors, 429, 5xx). */
  maxRetries: number;
  maxCompletionTokens?: number;
  promptLimits?: PromptLimits;
}

const MIN_REDACTED_KEY_LENGTH = 8;

// What one answer may put into the analysis' event. Events pass through NATS (1 MB a message by
// default) and the read models: a server that ignores `max_completion_tokens`, or a proxy's
// error page, must not make an event too large to publish.
/** Characters of the summary and of a failure's message. */
export const MAX_MESSAGE_CHARS = 2_000;
/** Tool calls of one answer applied; the others are refused to the model. */
export const MAX_TOOL_CALLS_PER_ANSWER = 10;
/** Characters of one tool call's name and arguments (a valid call needs far fewer). */
export const MAX_ARGUMENT_CHARS = 4_000;
/** Tokens one request is charged at most, whatever the server reports (rm_analyses holds an int4). */
export const MAX_TOKENS_PER_REQUEST = 10_000_000;

export const OPENAI_TOOLS: ChatCompletionTool[] = PLANNER_TOOL_DEFINITIONS.map((tool) => ({
  type: 'function',
  function: { name: tool.name, description: tool.description, parameters: tool.parameters },
}));

/**
 * The LLM planner (DESIGN §7): OpenAI chat completions with the four tools. Each round's tool
 * calls go to the applier (the endpoint decider) and its verdicts go back to the model as tool
 * messages, so it can correct a rejected call; at most `maxSteps` rounds. Token usage of all
 * rounds is summed. Failures throw `PlannerFailure`.
 */
export class OpenAIPlanner implements InteractivePlanner {
  private readonly client: OpenAI;

  constructor(private readonly options: OpenAIPlannerOptions) {
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL ?? undefined,
      // Our own signal ends a request at requestTimeoutMs (see `plan`); this is a backstop.
      timeout: options.requestTimeoutMs + 1_000,
      maxRetries: options.maxRetries,
    });
  }

  get model(): string {
    return this.options.model;
  }

  /**
   * The message reaches tenants (AIAnalysisFailed): a server that echoes the key must not pass
   * it on. A placeholder key a local server ignores (`x`) is left alone: it is no secret, and
   * replacing it would garble the message.
   */
  private withoutKey(message: string): string {
    const { apiKey } = this.options;
    return apiKey.length >= MIN_REDACTED_KEY_LENGTH ? message.replaceAll(apiKey, '[REDACTED]') : message;
  }

  async plan(context: PlannerContext, applier?: ToolCallApplier): Promise<PlannerDecision> {
    const deadline = AbortSignal.timeout(this.options.analysisTimeoutMs);
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: systemPrompt(this.options.aiMaxPauseMs) },
      { role: 'user', content: userPrompt(context, this.options.promptLimits ?? DEFAULT_PROMPT_LIMITS) },
    ];
    const toolCalls: ToolCallRequest[] = [];
    let tokensIn = 0;
    let tokensOut = 0;
    let summary = '';
    const fail = (reason: PlannerFailureReason, message: string, cause?: unknown, detail?: string): never => {
      throw new PlannerFailure(reason, message, { tokensIn, tokensOut, toolCalls }, { cause, detail });
    };

    for (let step = 1; step <= this.options.maxSteps; step++) {
      let completion: ChatCompletion;
      const requestTimer = AbortSignal.timeout(this.options.requestTimeoutMs);
      const promptEstimate = estimateTokens(messages, OPENAI_TOOLS);
      try {
        completion = await this.client.chat.completions.create(
          {
            model: this.options.model,
            messages,
            tools: OPENAI_TOOLS,
            tool_choice: 'auto',
            ...(this.options.maxCompletionTokens
              ? { max_completion_tokens: this.options.maxCompletionTokens }
              : {}),
          },
          { signal: AbortSignal.any([deadline, requestTimer]) },
        );
      } catch (error) {
        const [reason, message, detail] = classify(error, requestTimer, deadline);
        // Sent but unanswered (or unreadable): the provider may have billed the prompt.
        if (reason !== 'error') tokensIn += promptEstimate;
        return fail(reason, message, error, detail && cut(this.withoutKey(detail), MAX_MESSAGE_CHARS));
      }
      const message = Array.isArray(completion?.choices) ? completion.choices[0]?.message : undefined;
      // A server that reports no usage is charged an estimate, or the budget would never run out.
      tokensIn += tokenCount(completion?.usage?.prompt_tokens) ?? promptEstimate;
      tokensOut += tokenCount(completion?.usage?.completion_tokens) ?? estimateTokens(message ?? '');
      if (!message || typeof message !== 'object') {
        return fail('malformed', 'the response holds no message (not a chat completion)');
      }
      if (typeof message.content === 'string' && message.content.trim() !== '')
        summary = cut(message.content.trim(), MAX_MESSAGE_CHARS);
      const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
      if (calls.length === 0) break;

      const requests = calls.slice(0, MAX_TOOL_CALLS_PER_ANSWER).map(toRequest);
      toolCalls.push(...requests);
      const outcomes: ToolCallOutcome[] = [
        ...(applier
          ? await applier.apply(requests)
          : requests.map(() => ({ accepted: true, reason: 'not applied yet' }))),
        ...calls.slice(MAX_TOOL_CALLS_PER_ANSWER).map(() => ({
          accepted: false,
          reason: `too many tool calls in one answer (at most ${MAX_TOOL_CALLS_PER_ANSWER})`,
        })),
      ];
      messages.push({ role: 'assistant', content: message.content ?? null, tool_calls: calls });
      calls.forEach((call, i) =>
        messages.push({
          role: 'tool',
          tool_call_id: call.id,
          content: JSON.stringify(
            outcomes[i]?.accepted
              ? { accepted: true, ...(outcomes[i].reason ? { note: outcomes[i].reason } : {}) }
              : { accepted: false, rejected: outcomes[i]?.reason ?? 'rejected' },
          ),
        }),
      );
    }
    if (!summary) {
      summary = toolCalls.length
        ? `${toolCalls.length} tool call(s): ${toolCalls.map((c) => c.name).join(', ')}`
        : 'no change';
    }
    return { toolCalls, summary, model: this.options.model, tokensIn, tokensOut };
  }
}

/** A tool call as the decider takes it; an absurdly long name or arguments are cut (and fail to parse). */
function toRequest(call: ChatCompletionMessageToolCall): ToolCallRequest {
  const bounded = (value: unknown) => (typeof value === 'string' ? cut(value, MAX_ARGUMENT_CHARS) : value);
  if (call.type === 'function')
    return { name: bounded(call.function?.name) as string, arguments: bounded(call.function?.arguments) };
  return { name: bounded(call.custom?.name ?? call.type) as string, arguments: bounded(call.custom?.input) };
}

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A token count the server reported, capped; undefined when it reported none. */
const tokenCount = (value: unknown) =>
  typeof value === 'number' && value >= 0
    ? Math.min(Number.isFinite(value) ? Math.round(value) : MAX_TOKENS_PER_REQUEST, MAX_TOKENS_PER_REQUEST)
    : undefined;

/** Tokens of what is sent or answered, by the common rule of thumb: four characters a token. */
function estimateTokens(...parts: unknown[]): number {
  return Math.ceil(parts.reduce<number>((sum, part) => sum + (JSON.stringify(part)?.length ?? 0), 0) / 4);
}

/**
 * Timeouts (per request or for the whole analysis), unusable answers, everything else. A
 * timeout is read from our own signals, not from the error's class: an abort surfaces as
 * whichever error the fetch implementation raises.
 */
function classify(
  error: unknown,
  request: AbortSignal,
  deadline: AbortSignal,
): [PlannerFailureReason, string, string?] {
  if (deadline.aborted) return ['timeout', 'the analysis ran out of time'];
  if (request.aborted || error instanceof APIConnectionTimeoutError)
    return ['timeout', 'the LLM request timed out'];
  if (error instanceof APIUserAbortError) return ['error', 'the LLM request was aborted'];
  const text = error instanceof Error ? error.message : String(error);
  if (error instanceof SyntaxError) return ['malformed', 'the LLM server sent an unreadable response', text];
  if (error instanceof APIConnectionError) return ['error', 'the LLM server could not be reached', text];
  if (error instanceof APIError && error.status) {
    return ['error', `the LLM server answered HTTP ${error.status} (${httpMeaning(error.status)})`, text];
  }
  return ['error', 'the LLM request failed', text];
}

/** What a status from an LLM server means for the operator, in words a tenant may read. */
function httpMeaning(status: number): string {
  if (status === 401 || status === 403) return 'it refused the configured credentials';
  if (status === 404) return 'the configured model or URL was not found';
  if (status === 429) return 'rate limited or out of quota';
  if (status >= 500) return 'the server failed';
  return 'the request was refused';
}
