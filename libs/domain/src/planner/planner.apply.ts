import { AIHintProposed, AIHintsCleared, PlannerToolCall } from '@cronicorn/events';
import { DomainError } from '../core/errors';
import { decide } from '../endpoint/endpoint.decider';
import { EndpointState, evolve } from '../endpoint/endpoint.state';
import { parseToolCall, toolCallToCommand } from './planner.tools';
import { PlannerSource, ToolCallRequest } from './planner.types';

// One analysis' tool calls through the endpoint decider, in order, each on the state the
// previous ones left. Pure: the adapter appends `events` (with the expected version it read)
// and records `toolCalls` in `AIAnalysisCompleted`.

export interface ApplyToolCallsInput {
  state: EndpointState;
  toolCalls: readonly ToolCallRequest[];
  now: Date;
  source: PlannerSource;
  /** The LLM's model (recorded on `ai` hints), null for the heuristic. */
  model: string | null;
  /** A fresh id per tool call, by index (only hint proposals use theirs). */
  hintIds: readonly string[];
  /** `AI_MAX_PAUSE_MS`. */
  aiMaxPauseMs?: number;
}

export interface AppliedToolCalls {
  events: (AIHintProposed | AIHintsCleared)[];
  /** Each call with accepted/rejected and why (or how it was clamped). */
  toolCalls: PlannerToolCall[];
  state: EndpointState;
}

/**
 * Parses, converts and decides each tool call. A rejected call (bad shape, or refused by
 * `validateHint`) is recorded with why and the next one is still applied. Other errors
 * (the endpoint is gone or archived) are thrown: the whole analysis is moot.
 */
export function applyToolCalls(input: ApplyToolCallsInput): AppliedToolCalls {
  const { now, source, model } = input;
  let state = input.state;
  const events: AppliedToolCalls['events'] = [];
  const toolCalls: PlannerToolCall[] = [];
  if (state.status === 'empty' || state.status === 'archived') {
    throw new DomainError('ENDPOINT.NOT_FOUND', 'No live endpoint to apply tool calls to', 'not_found');
  }
  const endpointId = state.endpointId;

  input.toolCalls.forEach((raw, index) => {
    const record = (accepted: boolean, reason: string | null) =>
      toolCalls.push({ name: String(raw?.name), arguments: raw?.arguments ?? null, accepted, reason });
    const parsed = parseToolCall(raw);
    if (!parsed.ok) return record(false, parsed.reason);
    const hintId = input.hintIds[index] ?? `${now.toISOString()}#${index}`;
    const command = toolCallToCommand(parsed.call, endpointId, { hintId }, now, source, model, {
      aiMaxPauseMs: input.aiMaxPauseMs,
    });
    let decided: (AIHintProposed | AIHintsCleared)[];
    try {
      decided = decide(command, state) as (AIHintProposed | AIHintsCleared)[];
    } catch (error) {
      if (error instanceof DomainError && error.kind === 'invalid') return record(false, error.message);
      throw error;
    }
    for (const event of decided) state = evolve(state, event);
    events.push(...decided);
    const proposed = decided.find((event): event is AIHintProposed => event.type === 'AIHintProposed');
    if (proposed && proposed.data.requested !== null) {
      return record(
        true,
        `clamped from ${String(proposed.data.requested)} to ${String(proposed.data.value)}`,
      );
    }
    if (decided.length === 0) return record(true, 'no change');
    return record(true, null);
  });
  return { events, toolCalls, state };
}
