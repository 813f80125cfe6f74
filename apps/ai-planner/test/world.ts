import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import {
  EndpointConfig,
  EndpointEvent,
  Event,
  EventEnvelope,
  RunFinished,
  RunResponse,
  RunStarted,
  RunStatus,
  streamIds,
} from '@cronicorn/events';
import {
  activeHints,
  Command,
  Decider,
  endpointConfigWithDefaults,
  EndpointCommand,
  endpointDecider,
  fold,
  jobDecider,
} from '@cronicorn/domain';
import { PostgresEventStore } from '@cronicorn/event-store';
import { OutboxRelay, silentLogger } from '@cronicorn/messaging';
import { createPool, loadConfig, SystemClock } from '@cronicorn/platform';
import {
  createTestDatabase,
  createTestNats,
  decideAndAppend,
  TestDatabase,
  TestNats,
} from '@cronicorn/testing';
import { ProjectorRunner } from '../../projector/src/projector.runner';
import { provisionSchedulerConsumers, Scheduler } from '../../scheduler/src/scheduler';
import { AiPlanner } from '../src/ai-planner';
import { AiPlannerMetrics } from '../src/ai-planner.metrics';
import { AiPlannerOptions, aiPlannerOptions } from '../src/ai-planner.options';
import { PlannerFailureReason } from '../src/planners/planner-failure';

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await delay(25);
  }
}

/** Records what the ai-planner reported through its metrics hooks. */
export class MetricsRecorder implements AiPlannerMetrics {
  readonly analyses: Array<{ planner: string; outcome: string; trigger: string }> = [];
  readonly skipped: PlannerFailureReason[] = [];
  readonly tokens = { in: 0, out: 0 };
  budgetExhausted = 0;
  crashed = 0;
  onAnalysis(r: {
    planner: string;
    outcome: string;
    trigger: string;
    tokensIn: number;
    tokensOut: number;
  }): void {
    this.analyses.push({ planner: r.planner, outcome: r.outcome, trigger: r.trigger });
    this.tokens.in += r.tokensIn;
    this.tokens.out += r.tokensOut;
  }
  onSkipped(reason: PlannerFailureReason): void {
    this.skipped.push(reason);
  }
  onBudgetExhausted(): void {
    this.budgetExhausted += 1;
  }
  onCrashed(): void {
    this.crashed += 1;
  }
}

export interface WorldOptions {
  /** Environment the ai-planner's config is read from (OPENAI_API_KEY, AI_*). */
  env?: NodeJS.ProcessEnv;
  planner?: Partial<AiPlannerOptions>;
  /** Also run a scheduler replica (to see NextRunPlanned follow hints). */
  scheduler?: boolean;
}

/**
 * One test world: a database, a NATS namespace, the outbox relay, the projector (read models
 * the planner's context comes from), optionally a scheduler, and one ai-planner replica.
 * Commands are appended through the deciders, runs as the dispatcher would append them.
 */
export class PlannerWorld {
  readonly tenantId = randomUUID();
  readonly clock = new SystemClock();
  readonly metrics = new MetricsRecorder();
  planner!: AiPlanner;
  private relay!: OutboxRelay;
  private projector!: ProjectorRunner;
  private scheduler: Scheduler | null = null;
  private readonly pools: Pool[] = [];

  private constructor(
    readonly db: TestDatabase,
    readonly nats: TestNats,
    readonly store: PostgresEventStore,
  ) {}

  static async create(options: WorldOptions = {}): Promise<PlannerWorld> {
    const db = await createTestDatabase({ max: 8 });
    const nats = await createTestNats();
    const world = new PlannerWorld(db, nats, new PostgresEventStore(db.pool));
    world.relay = new OutboxRelay({
      pool: db.pool,
      store: world.store,
      js: nats.js,
      names: nats.names,
      pollIntervalMs: 100,
      logger: silentLogger,
    });
    world.relay.start();
    world.projector = new ProjectorRunner({
      pool: world.newPool('projector-test'),
      store: world.store,
      logger: silentLogger,
    });
    world.projector.start();
    if (options.scheduler) {
      await provisionSchedulerConsumers(nats.jsm, nats.names);
      const pool = world.newPool('scheduler-test');
      world.scheduler = new Scheduler({
        pool,
        store: new PostgresEventStore(pool),
        js: nats.js,
        names: nats.names,
        clock: world.clock,
        options: { sweepIntervalMs: 1_000 },
        logger: silentLogger,
      });
      world.scheduler.start();
    }
    const config = loadConfig('ai-planner', { ...options.env });
    const pool = world.newPool('ai-planner-test');
    world.planner = new AiPlanner({
      pool,
      store: new PostgresEventStore(pool),
      nc: nats.nc,
      js: nats.js,
      names: nats.names,
      clock: world.clock,
      // A short lease: an analysis whose bookkeeping failed (a busy test server refusing
      // connections) is taken up again within the test's patience.
      options: aiPlannerOptions(config, {
        tailPollMs: 200,
        pollIntervalMs: 200,
        leaseMs: 5_000,
        ...options.planner,
      }),
      logger: silentLogger,
      metrics: world.metrics,
    });
    world.planner.start();
    return world;
  }

  private newPool(name: string): Pool {
    const pool = createPool(this.db.url, { max: 6, applicationName: name });
    this.pools.push(pool);
    return pool;
  }

  async close(): Promise<void> {
    await this.planner.stop();
    await this.scheduler?.stop();
    await this.projector.stop();
    await this.relay.stop();
    await Promise.all(this.pools.map((p) => p.end()));
    await this.nats.cleanup();
    await this.db.drop();
  }

  //////////////////////////////////////// Commands, as command-api would append them

  async command<S, C extends Command, E extends Event>(
    decider: Decider<S, C, E>,
    streamId: string,
    command: C,
  ): Promise<EventEnvelope[]> {
    return decideAndAppend(this.store, decider, streamId, command, { tenantId: this.tenantId });
  }

  async createJob(): Promise<string> {
    const jobId = randomUUID();
    await this.command(jobDecider, streamIds.job(jobId), {
      type: 'CreateJob',
      data: { jobId, name: 'job', description: null },
      metadata: { now: this.clock.now() },
    });
    return jobId;
  }

  async createEndpoint(jobId: string, config: Partial<EndpointConfig> = {}): Promise<string> {
    const endpointId = randomUUID();
    const full = endpointConfigWithDefaults({
      name: 'queue-poller',
      url: 'https://example.com/queue',
      schedule: { kind: 'interval', intervalMs: 60_000 },
      description: 'polls the import queue',
      ...config,
    });
    await this.endpointCommand(endpointId, {
      type: 'CreateEndpoint',
      data: { endpointId, jobId, jobStatus: 'active', config: full },
    });
    return endpointId;
  }

  endpointCommand(endpointId: string, command: Omit<EndpointCommand, 'metadata'>): Promise<EventEnvelope[]> {
    return this.command(endpointDecider, streamIds.endpoint(endpointId), {
      ...command,
      metadata: { now: this.clock.now() },
    } as EndpointCommand);
  }

  /** A run of the endpoint, appended as the dispatcher appends it; returns the RunFinished. */
  async finishRun(
    endpointId: string,
    jobId: string,
    status: RunStatus,
    options: { httpStatus?: number; body?: unknown; correlationId?: string } = {},
  ): Promise<EventEnvelope> {
    const runId = randomUUID();
    const now = this.clock.now();
    const startedAt = new Date(now.getTime() - 120);
    const common = {
      runId,
      endpointId,
      jobId,
      scheduledFor: startedAt.toISOString(),
      startedAt: startedAt.toISOString(),
      trigger: 'schedule' as const,
      retryOf: null,
    };
    const metadata = {
      tenantId: this.tenantId,
      actor: 'dispatcher',
      correlationId: options.correlationId ?? randomUUID(),
    };
    const started: RunStarted = { type: 'RunStarted', data: { ...common, lateMs: 0, attempt: 1 } };
    const snippet = options.body === undefined ? null : JSON.stringify(options.body);
    const response: RunResponse | null =
      snippet === null
        ? null
        : { snippet, bytes: snippet.length, truncated: false, contentType: 'application/json' };
    const finished: RunFinished = {
      type: 'RunFinished',
      data: {
        ...common,
        status,
        httpStatus: options.httpStatus ?? (status === 'success' ? 200 : 500),
        durationMs: 120,
        attempts: 1,
        error: status === 'success' ? null : 'HTTP 500',
        response,
        retryAfterMs: null,
        finishedAt: now.toISOString(),
      },
    };
    await this.store.append(streamIds.run(runId), [started], { expectedVersion: 0, metadata });
    const result = await this.store.append(streamIds.run(runId), [finished], {
      expectedVersion: 1,
      metadata,
    });
    return result.envelopes[0];
  }

  //////////////////////////////////////// What happened

  plannerEvents(endpointId: string): Promise<EventEnvelope[]> {
    return this.store.readStream(streamIds.planner(endpointId));
  }

  endpointEvents(endpointId: string): Promise<EventEnvelope[]> {
    return this.store.readStream(streamIds.endpoint(endpointId));
  }

  /** Waits for the `n`th analysis of the endpoint and returns it. */
  async analysis(endpointId: string, n = 1, timeoutMs = 30_000): Promise<EventEnvelope> {
    await waitFor(
      async () => (await this.plannerEvents(endpointId)).length >= n,
      `analysis #${n}`,
      timeoutMs,
    );
    return (await this.plannerEvents(endpointId))[n - 1];
  }

  /** The hints in force now, by replaying the endpoint stream. */
  async activeHintsNow(endpointId: string) {
    const events = await this.endpointEvents(endpointId);
    const state = fold(
      endpointDecider,
      events.map((e) => ({ type: e.type, data: e.data }) as EndpointEvent),
    );
    return activeHints(state, this.clock.now());
  }

  async queueRow(endpointId: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await this.db.pool.query('SELECT * FROM ai_planner_endpoints WHERE endpoint_id = $1', [
      endpointId,
    ]);
    return rows[0];
  }

  scheduleEvents(endpointId: string): Promise<EventEnvelope[]> {
    return this.store.readStream(streamIds.schedule(endpointId));
  }
}
