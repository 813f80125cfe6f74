import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { PostgresEventStore } from '@cronicorn/event-store';
import { backoffMs, provisionConsumer, sleep } from '@cronicorn/messaging';
import {
  Clock,
  CONFIG,
  CronicornConfig,
  DatabaseRuntime,
  describeError,
  METRICS_REGISTRY,
  NatsRuntime,
  nestMessagingLogger,
} from '@cronicorn/platform';
import type { Registry } from 'prom-client';
import { AiPlanner, aiPlannerConsumerSpec } from './ai-planner';
import { AiPlannerMetrics, aiPlannerMetrics } from './ai-planner.metrics';
import { AiPlannerOptions, aiPlannerOptions } from './ai-planner.options';

export const AI_PLANNER_CLOCK = Symbol('AI_PLANNER_CLOCK');
export const AI_PLANNER_OPTIONS = Symbol('AI_PLANNER_OPTIONS');

/**
 * Keeps one `AiPlanner` replica running for the life of the app: once Postgres is migrated and
 * NATS is connected it provisions the `ai-planner` durable consumer and starts a replica; a
 * new NATS connection gets a new replica. On shutdown (before the core module closes NATS and
 * the pool) it stops taking work and lets the analyses in flight be recorded.
 */
@Injectable()
export class AiPlannerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('AiPlanner');
  private readonly stopping = new AbortController();
  private readonly metrics: AiPlannerMetrics;
  private readonly options: AiPlannerOptions;
  private current: AiPlanner | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly database: DatabaseRuntime,
    private readonly nats: NatsRuntime,
    private readonly store: PostgresEventStore,
    @Inject(CONFIG) config: CronicornConfig,
    @Inject(AI_PLANNER_CLOCK) private readonly clock: Clock,
    @Inject(AI_PLANNER_OPTIONS) overrides: Partial<AiPlannerOptions>,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.metrics = aiPlannerMetrics(registry);
    this.options = aiPlannerOptions(config, overrides);
  }

  /** The running replica, if any (tests and diagnostics). */
  get planner(): AiPlanner | null {
    return this.current;
  }

  onApplicationBootstrap(): void {
    this.running = this.supervise().catch((error: unknown) =>
      this.log.error(`ai-planner supervisor failed: ${describeError(error)}`),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    const planner = this.current;
    if (planner) {
      this.log.log('stopping: no new analyses; recording the ones in flight');
      await planner.stop();
      this.current = null;
    }
    await this.running;
    this.log.log('ai-planner stopped');
  }

  private get stopped(): Promise<null> {
    return new Promise((resolve) => {
      if (this.stopping.signal.aborted) resolve(null);
      else this.stopping.signal.addEventListener('abort', () => resolve(null), { once: true });
    });
  }

  private async supervise(): Promise<void> {
    if ((await Promise.race([this.database.ready.then(() => true), this.stopped])) === null) return;
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      const handle = await Promise.race([this.nats.ready, this.stopped]);
      if (!handle || this.stopping.signal.aborted) return;
      try {
        await provisionConsumer(
          handle.jsm,
          handle.names.eventsStream,
          aiPlannerConsumerSpec(handle.names, this.options.consumerName),
        );
      } catch (error) {
        failures += 1;
        this.log.warn(`cannot provision the ai-planner consumer (${describeError(error)}); retrying`);
        await sleep(backoffMs(failures, 500, 15_000), this.stopping.signal);
        continue;
      }
      failures = 0;
      const planner = new AiPlanner({
        pool: this.database.pool,
        store: this.store,
        nc: handle.nc,
        js: handle.js,
        names: handle.names,
        clock: this.clock,
        options: this.options,
        logger: nestMessagingLogger('AiPlanner'),
        metrics: this.metrics,
      });
      this.current = planner;
      planner.start();
      this.log.log(
        planner.usesLlm
          ? `analysing as ${this.options.owner} with ${this.options.model}` +
              `${this.options.openaiBaseUrl ? ` at ${this.options.openaiBaseUrl}` : ''}; ` +
              `daily budget ${this.options.dailyTokenBudget} tokens per tenant`
          : `analysing as ${this.options.owner} with the heuristic planner (no OPENAI_API_KEY)`,
      );
      await Promise.race([handle.nc.closed(), this.stopped]);
      if (this.stopping.signal.aborted) return;
      await planner.stop();
      this.current = null;
    }
  }
}
