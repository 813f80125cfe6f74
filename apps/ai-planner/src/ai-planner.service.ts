import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { PostgresEventStore } from '@cronicorn/event-store';
import {
  Clock,
  CONFIG,
  CronicornConfig,
  DatabaseRuntime,
  METRICS_REGISTRY,
  NatsRuntime,
  nestMessagingLogger,
  retireEventsConsumer,
  WorkerSupervisor,
} from '@cronicorn/platform';
import type { Registry } from 'prom-client';
import { AiPlanner, RETIRED_AI_PLANNER_DURABLE } from './ai-planner';
import { aiPlannerMetrics } from './ai-planner.metrics';
import { AiPlannerOptions, aiPlannerOptions } from './ai-planner.options';

export const AI_PLANNER_CLOCK = Symbol('AI_PLANNER_CLOCK');
export const AI_PLANNER_OPTIONS = Symbol('AI_PLANNER_OPTIONS');

/**
 * Keeps one `AiPlanner` replica running for the life of the app: once Postgres is migrated and
 * NATS is connected it removes the retired `ai-planner` durable consumer if an upgraded
 * deployment still has it (ADR 0031) and starts a replica; a
 * new NATS connection gets a new replica. On shutdown (before the core module closes NATS and
 * the pool) it stops taking work and lets the analyses in flight be recorded.
 */
@Injectable()
export class AiPlannerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly supervisor: WorkerSupervisor<AiPlanner>;

  constructor(
    database: DatabaseRuntime,
    nats: NatsRuntime,
    store: PostgresEventStore,
    @Inject(CONFIG) config: CronicornConfig,
    @Inject(AI_PLANNER_CLOCK) clock: Clock,
    @Inject(AI_PLANNER_OPTIONS) overrides: Partial<AiPlannerOptions>,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    const log = new Logger('AiPlanner');
    const metrics = aiPlannerMetrics(registry);
    const options = aiPlannerOptions(config, overrides);
    this.supervisor = new WorkerSupervisor({
      name: 'ai-planner',
      database,
      nats,
      logger: log,
      stoppingMessage: 'stopping: no new analyses; recording the ones in flight',
      provision: (handle) =>
        retireEventsConsumer(handle, RETIRED_AI_PLANNER_DURABLE, 'RunFinished is read from the log', log),
      start: (handle) => {
        const planner = new AiPlanner({
          pool: database.pool,
          store,
          nc: handle.nc,
          js: handle.js,
          names: handle.names,
          clock,
          options,
          logger: nestMessagingLogger('AiPlanner'),
          metrics,
        });
        planner.start();
        log.log(
          planner.usesLlm
            ? `analysing as ${options.owner} with ${options.model}` +
                `${options.openaiBaseUrl ? ` at ${options.openaiBaseUrl}` : ''}; ` +
                `daily budget ${options.dailyTokenBudget} tokens per tenant`
            : `analysing as ${options.owner} with the heuristic planner (no OPENAI_API_KEY)`,
        );
        return planner;
      },
    });
  }

  /** The running replica, if any (tests and diagnostics). */
  get planner(): AiPlanner | null {
    return this.supervisor.current;
  }

  onApplicationBootstrap(): void {
    this.supervisor.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.supervisor.stop();
  }
}
