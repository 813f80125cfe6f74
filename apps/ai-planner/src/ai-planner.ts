import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Pool } from 'pg';
import { NatsNames } from '@cronicorn/events';
import { HeuristicPlanner } from '@cronicorn/domain';
import { EventStore } from '@cronicorn/event-store';
import { consoleLogger, LogTail, MessagingLogger } from '@cronicorn/messaging';
import type { Clock } from '@cronicorn/platform';
import { AiPlannerMetrics } from './ai-planner.metrics';
import { AiPlannerOptions } from './ai-planner.options';
import { Analyzer, LlmPlanner } from './analysis/analyzer';
import { ContextBuilder } from './analysis/context-builder';
import { AnalyzeResponder } from './analyze/analyze.responder';
import { TokenBudget } from './budget/token-budget';
import { OpenAIPlanner } from './planners/openai-planner';
import { AnalysisLoop } from './queue/analysis-loop';
import { AnalysisQueue } from './queue/analysis-queue';

/** The JetStream durable that read `RunFinished` before the log tail (ADR 0031). */
export const RETIRED_AI_PLANNER_DURABLE = 'ai-planner';

export interface AiPlannerDeps {
  pool: Pool;
  store: Pick<EventStore, 'append' | 'readStream' | 'readAll'>;
  nc: NatsConnection;
  js: JetStreamClient;
  names: NatsNames;
  clock: Clock;
  options: AiPlannerOptions;
  logger?: MessagingLogger;
  metrics?: AiPlannerMetrics;
}

/** The LLM planner the options ask for, or null (no API key: heuristic only). */
export function llmPlannerOf(options: AiPlannerOptions): LlmPlanner | null {
  if (!options.openaiApiKey) return null;
  return new OpenAIPlanner({
    apiKey: options.openaiApiKey,
    baseURL: options.openaiBaseUrl,
    model: options.model,
    aiMaxPauseMs: options.aiMaxPauseMs,
    requestTimeoutMs: options.llmTimeoutMs,
    analysisTimeoutMs: options.analysisTimeoutMs,
    maxSteps: options.maxSteps,
    maxRetries: options.llmMaxRetries,
    maxCompletionTokens: options.maxCompletionTokens,
    promptLimits: options.prompt,
  });
}

/**
 * One ai-planner replica on one NATS connection: the log tail that marks endpoints for
 * analysis (in its transaction, nothing else), the loop that analyses due endpoints, and the
 * responder for on-demand analyses. One replica's tail leads at a time; replicas split the
 * due rows through leases and the analyze requests through a queue group.
 */
export class AiPlanner {
  readonly queue: AnalysisQueue;
  readonly analyzer: Analyzer;
  /** Reads `RunFinished` from the log and marks endpoints for analysis. */
  readonly tail: LogTail;
  readonly loop: AnalysisLoop;
  readonly responder: AnalyzeResponder;
  /** True when analyses use the LLM (an API key is set), budget permitting. */
  readonly usesLlm: boolean;
  private started = false;

  constructor(deps: AiPlannerDeps) {
    const { options } = deps;
    const logger = deps.logger ?? consoleLogger;
    const llm = llmPlannerOf(options);
    this.usesLlm = llm !== null;
    this.queue = new AnalysisQueue(deps.pool, options.owner, options.analysisIntervalMs, options.leaseMs);
    this.analyzer = new Analyzer({
      pool: deps.pool,
      store: deps.store,
      clock: deps.clock,
      context: new ContextBuilder(deps.pool, options.context),
      budget: new TokenBudget(deps.pool, options.dailyTokenBudget),
      llm,
      heuristic: new HeuristicPlanner(options.heuristic),
      aiMaxPauseMs: options.aiMaxPauseMs,
      readModelWaitMs: options.readModelWaitMs,
      logger,
      metrics: deps.metrics,
    });
    this.loop = new AnalysisLoop(
      this.queue,
      this.analyzer,
      deps.clock,
      { pollIntervalMs: options.pollIntervalMs, concurrency: options.concurrency },
      logger,
      deps.metrics,
    );
    this.tail = new LogTail({
      pool: deps.pool,
      store: deps.store,
      name: options.tailName,
      types: ['RunFinished'],
      handle: (envelopes, client) => this.queue.recordRunsFinished(client, envelopes, deps.clock.now()),
      onHandled: () => this.loop.wake(),
      // Due analyses are a queue rebuilt from the log: a commit lost in a crash is read again.
      durableCommit: false,
      // Its upsert writes rows by endpoint.
      genericPlans: true,
      // Analyses are debounced for minutes: a tenth of a second more is nothing.
      lingerMs: 100,
      pollIntervalMs: options.tailPollMs,
      logger,
    });
    this.responder = new AnalyzeResponder(
      deps.nc,
      deps.names,
      this.queue,
      this.analyzer,
      deps.store,
      { busyWaitMs: options.busyWaitMs, busyPollMs: 200 },
      logger,
    );
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.tail.start();
    this.loop.start();
    this.responder.start();
  }

  /** Stops taking requests and claims, lets analyses in flight be recorded, stops the tail. */
  async stop(): Promise<void> {
    await Promise.all([this.responder.stop(), this.loop.stop(), this.tail.stop()]);
  }
}
