import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import {
  AIAnalysisCompleted,
  AIAnalysisFailed,
  AnalyzeResult,
  EndpointEvent,
  EventMetadata,
  PlannerEvent,
  streamIds,
} from '@cronicorn/events';
import { endpointDecider, EndpointState, fold, Planner, PlannerDecision } from '@cronicorn/domain';
import { EventStore } from '@cronicorn/event-store';
import { MessagingLogger } from '@cronicorn/messaging';
import { Clock, withTransaction } from '@cronicorn/platform';
import { waitForPosition } from '@cronicorn/read-models';
import { AiPlannerMetrics } from '../ai-planner.metrics';
import { BudgetReservation, TokenBudget } from '../budget/token-budget';
import { InteractivePlanner } from '../planners/openai-planner';
import { PlannerFailure } from '../planners/planner-failure';
import { ContextBuilder } from './context-builder';
import { ToolCallSession } from './tool-call-session';

/** The endpoint to analyse and why (from the queue's row). */
export interface AnalysisTarget {
  endpointId: string;
  tenantId: string;
  /** The failure streak the queue saw (used while the read model lacks the endpoint). */
  failureStreak: number;
  correlationId: string | null;
  /** The RunFinished event id that asked for this analysis, if any. */
  causationId: string | null;
  /** Position of the newest RunFinished seen: the context waits (briefly) for the read models to hold it. */
  runPosition: string | null;
}

export type AnalysisTrigger = 'run' | 'demand';

export type AnalysisOutcome = { kind: 'recorded'; result: AnalyzeResult } | { kind: 'gone' };

/** The LLM planner with its model name; absent without `OPENAI_API_KEY`. */
export interface LlmPlanner extends InteractivePlanner {
  readonly model: string;
}

export interface AnalyzerDeps {
  pool: Pool;
  store: Pick<EventStore, 'readStream' | 'append'>;
  clock: Clock;
  context: ContextBuilder;
  budget: TokenBudget;
  llm: LlmPlanner | null;
  heuristic: Planner;
  aiMaxPauseMs: number;
  /** Longest wait for the read models to include `runPosition`; then the context is built anyway. */
  readModelWaitMs: number;
  logger: MessagingLogger;
  metrics?: AiPlannerMetrics;
}

type LiveEndpoint = Extract<EndpointState, { status: 'active' | 'paused' }>;

/**
 * One analysis cycle of one endpoint: build the context, pick the planner (the LLM when there
 * is an API key and the tenant is under its daily token budget, else the heuristic), let it
 * plan, put every tool call through the endpoint decider (`ToolCallSession`), and record the
 * result in `planner-<endpointId>` together with the token usage and the caller's bookkeeping
 * (`onRecord`), in one transaction. An LLM failure is recorded as `AIAnalysisFailed` and ends
 * the cycle normally; only infrastructure errors (Postgres, NATS) are thrown.
 */
export class Analyzer {
  constructor(private readonly deps: AnalyzerDeps) {}

  async analyze(
    target: AnalysisTarget,
    trigger: AnalysisTrigger,
    onRecord: (client: PoolClient, now: Date) => Promise<void>,
  ): Promise<AnalysisOutcome> {
    const { deps } = this;
    const started = Date.now();
    const endpoint = await this.loadEndpoint(target);
    if (!endpoint) return { kind: 'gone' };
    if (target.runPosition && deps.readModelWaitMs > 0) {
      const caughtUp = await waitForPosition(deps.pool, target.runPosition, deps.readModelWaitMs);
      if (!caughtUp)
        deps.logger.debug({ endpointId: target.endpointId }, 'read models lag; analysing what they hold');
    }
    const now = deps.clock.now();
    const context = await deps.context.build(target.tenantId, endpoint, now, target.failureStreak);

    let planner: Planner = deps.heuristic;
    let source: 'ai' | 'heuristic' = 'heuristic';
    let note: string | null = null;
    let reservation: BudgetReservation | null = null;
    if (deps.llm) {
      const budget = await deps.budget.reserve(target.tenantId, now);
      if (!budget.granted) {
        const { used, budget: daily } = budget.status;
        note = `AI daily token budget exhausted (${used} of ${daily} tokens used or reserved today, UTC): heuristic planner used`;
        deps.metrics?.onBudgetExhausted?.();
      } else {
        reservation = budget.reservation;
        planner = deps.llm;
        source = 'ai';
      }
    }
    const model = source === 'ai' && deps.llm ? deps.llm.model : null;
    const metadata: EventMetadata = {
      tenantId: target.tenantId,
      actor: 'ai-planner',
      ...(target.correlationId ? { correlationId: target.correlationId } : {}),
      ...(target.causationId ? { causationId: target.causationId } : {}),
    };
    const session = new ToolCallSession({
      store: deps.store,
      clock: deps.clock,
      endpointId: target.endpointId,
      source,
      model,
      aiMaxPauseMs: deps.aiMaxPauseMs,
      metadata,
    });

    const analysisId = randomUUID();
    let event: PlannerEvent;
    try {
      const decision: PlannerDecision =
        planner === deps.llm ? await deps.llm.plan(context, session) : await planner.plan(context);
      const rest = decision.toolCalls.filter((call) => !session.has(call));
      await session.apply(rest);
      event = completed(target, analysisId, source, decision, session, note, deps.clock.now());
    } catch (error) {
      if (!(error instanceof PlannerFailure)) throw error;
      deps.metrics?.onSkipped?.(error.reason);
      deps.logger.warn(
        { endpointId: target.endpointId, reason: error.reason, error: error.detail },
        'LLM analysis cycle skipped',
      );
      event = interrupted(target, analysisId, model ?? 'unknown', error, session, deps.clock.now());
    }

    const position = await withTransaction(deps.pool, async (client) => {
      const recordedAt = deps.clock.now();
      const result = await deps.store.append(streamIds.planner(target.endpointId), [event], {
        expectedVersion: 'any',
        metadata,
        client,
        occurredAt: recordedAt,
      });
      // What the LLM billed is charged even when its answer was of no use.
      const { tokensIn = 0, tokensOut = 0 } = event.data;
      if (reservation) await deps.budget.record(client, reservation, tokensIn, tokensOut);
      await onRecord(client, recordedAt);
      return result.lastPosition;
    });

    const result = resultOf(event, source, position);
    deps.metrics?.onAnalysis?.({
      planner: source,
      outcome: result.status,
      trigger,
      tokensIn: result.tokensIn,
      tokensOut: result.tokensOut,
      accepted: result.toolCalls.filter((c) => c.accepted).length,
      rejected: result.toolCalls.filter((c) => !c.accepted).length,
      durationMs: Date.now() - started,
    });
    return { kind: 'recorded', result };
  }

  /** The live endpoint of this tenant, or null (never existed, another tenant's, archived). */
  private async loadEndpoint(target: AnalysisTarget): Promise<LiveEndpoint | null> {
    const stored = await this.deps.store.readStream(streamIds.endpoint(target.endpointId));
    if (stored.length === 0 || stored[0].tenantId !== target.tenantId) return null;
    const state = fold(
      endpointDecider,
      stored.map((e) => ({ type: e.type, data: e.data }) as EndpointEvent),
    );
    return state.status === 'active' || state.status === 'paused' ? state : null;
  }
}

function completed(
  target: AnalysisTarget,
  analysisId: string,
  planner: 'ai' | 'heuristic',
  decision: PlannerDecision,
  session: ToolCallSession,
  note: string | null,
  at: Date,
): AIAnalysisCompleted {
  return {
    type: 'AIAnalysisCompleted',
    data: {
      endpointId: target.endpointId,
      analysisId,
      planner,
      model: decision.model,
      tokensIn: decision.tokensIn,
      tokensOut: decision.tokensOut,
      toolCalls: session.toolCalls,
      summary: note ? `${note}. ${decision.summary}` : decision.summary,
      analyzedAt: at.toISOString(),
    },
  };
}

/**
 * A failed LLM cycle. When calls of earlier rounds were applied already their hints stand, so
 * the analysis is recorded as completed (with what it did and why it stopped); otherwise as
 * `AIAnalysisFailed`.
 */
function interrupted(
  target: AnalysisTarget,
  analysisId: string,
  model: string,
  failure: PlannerFailure,
  session: ToolCallSession,
  at: Date,
): PlannerEvent {
  if (session.toolCalls.length > 0) {
    return {
      type: 'AIAnalysisCompleted',
      data: {
        endpointId: target.endpointId,
        analysisId,
        planner: 'ai',
        model,
        tokensIn: failure.spent.tokensIn,
        tokensOut: failure.spent.tokensOut,
        toolCalls: session.toolCalls,
        summary: `interrupted (${failure.reason}: ${failure.message}) after ${session.toolCalls.length} tool call(s)`,
        analyzedAt: at.toISOString(),
      },
    };
  }
  const failed: AIAnalysisFailed = {
    type: 'AIAnalysisFailed',
    data: {
      endpointId: target.endpointId,
      analysisId,
      model,
      reason: failure.reason,
      error: failure.message,
      tokensIn: failure.spent.tokensIn,
      tokensOut: failure.spent.tokensOut,
      failedAt: at.toISOString(),
    },
  };
  return failed;
}

function resultOf(event: PlannerEvent, planner: 'ai' | 'heuristic', position: string): AnalyzeResult {
  if (event.type === 'AIAnalysisCompleted') {
    const d = event.data;
    return {
      analysisId: d.analysisId,
      status: 'completed',
      planner: d.planner,
      model: d.model,
      tokensIn: d.tokensIn,
      tokensOut: d.tokensOut,
      toolCalls: d.toolCalls,
      summary: d.summary,
      failureReason: null,
      error: null,
      at: d.analyzedAt,
      position,
    };
  }
  const d = event.data;
  return {
    analysisId: d.analysisId,
    status: 'failed',
    planner,
    model: d.model,
    tokensIn: d.tokensIn ?? 0,
    tokensOut: d.tokensOut ?? 0,
    toolCalls: [],
    summary: null,
    failureReason: d.reason,
    error: d.error,
    at: d.failedAt,
    position,
  };
}
