import { randomUUID } from 'node:crypto';
import { EndpointEvent, EventEnvelope, EventMetadata, PlannerToolCall, streamIds } from '@cronicorn/events';
import {
  applyToolCalls,
  DomainError,
  endpointDecider,
  fold,
  PlannerSource,
  ToolCallRequest,
} from '@cronicorn/domain';
import { ConcurrencyError, EventStore } from '@cronicorn/event-store';
import type { Clock } from '@cronicorn/platform';

/** What became of one batch of tool calls, in order. */
export type ToolCallOutcome = Pick<PlannerToolCall, 'accepted' | 'reason'>;

/** Lets a planner apply its tool calls while it plans, and hear back what became of them. */
export interface ToolCallApplier {
  apply(calls: readonly ToolCallRequest[]): Promise<ToolCallOutcome[]>;
}

export interface ToolCallSessionOptions {
  store: Pick<EventStore, 'readStream' | 'append'>;
  clock: Clock;
  endpointId: string;
  source: PlannerSource;
  /** The LLM's model for `ai`, null for `heuristic`. */
  model: string | null;
  aiMaxPauseMs: number;
  metadata: EventMetadata;
  /** Appends retried on a concurrent write to the endpoint stream. Default 5. */
  maxConflicts?: number;
}

/**
 * The one way an analysis changes an endpoint: its tool calls go, batch by batch, through
 * `parseToolCall` → `toolCallToCommand` → the endpoint decider (`applyToolCalls`), exactly
 * like a user's `POST /v1/endpoints/:id/hints`, and the resulting `AIHintProposed` /
 * `AIHintsCleared` are appended with the version the state was read at. A call the decider
 * refuses is recorded as rejected with its reason; nothing is written for it.
 */
export class ToolCallSession implements ToolCallApplier {
  /** Every call applied so far, with accepted/rejected and why, for `AIAnalysisCompleted`. */
  readonly toolCalls: PlannerToolCall[] = [];
  /** The endpoint events appended so far. */
  readonly appended: EventEnvelope[] = [];
  private readonly seen = new Set<ToolCallRequest>();

  constructor(private readonly options: ToolCallSessionOptions) {}

  /** True when `call` went through this session already. */
  has(call: ToolCallRequest): boolean {
    return this.seen.has(call);
  }

  async apply(calls: readonly ToolCallRequest[]): Promise<ToolCallOutcome[]> {
    if (calls.length === 0) return [];
    calls.forEach((call) => this.seen.add(call));
    const { store, clock, endpointId } = this.options;
    const streamId = streamIds.endpoint(endpointId);
    const maxConflicts = this.options.maxConflicts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const stored = await store.readStream(streamId);
      const state = fold(
        endpointDecider,
        stored.map((e) => ({ type: e.type, data: e.data }) as EndpointEvent),
      );
      const now = clock.now();
      let result: ReturnType<typeof applyToolCalls>;
      try {
        result = applyToolCalls({
          state,
          toolCalls: calls,
          now,
          source: this.options.source,
          model: this.options.model,
          hintIds: calls.map(() => randomUUID()),
          aiMaxPauseMs: this.options.aiMaxPauseMs,
        });
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        // The endpoint went away (archived) under the analysis: every call is moot.
        return this.record(
          calls.map((call) => ({
            name: String(call?.name),
            arguments: call?.arguments ?? null,
            accepted: false,
            reason: error.message,
          })),
        );
      }
      if (result.events.length > 0) {
        try {
          const appended = await store.append(streamId, result.events, {
            expectedVersion: stored.at(-1)?.streamVersion ?? 0,
            metadata: this.options.metadata,
            occurredAt: now,
          });
          this.appended.push(...appended.envelopes);
        } catch (error) {
          if (error instanceof ConcurrencyError && attempt < maxConflicts) continue;
          throw error;
        }
      }
      return this.record(result.toolCalls);
    }
  }

  private record(toolCalls: PlannerToolCall[]): ToolCallOutcome[] {
    this.toolCalls.push(...toolCalls);
    return toolCalls.map(({ accepted, reason }) => ({ accepted, reason }));
  }
}
