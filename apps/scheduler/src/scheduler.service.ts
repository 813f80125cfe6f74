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
import { Scheduler, schedulerConsumerSpec } from './scheduler';
import { SchedulerMetrics, schedulerMetrics } from './scheduler.metrics';
import { SchedulerOptions } from './scheduler.options';

export const SCHEDULER_CLOCK = Symbol('SCHEDULER_CLOCK');
export const SCHEDULER_OPTIONS = Symbol('SCHEDULER_OPTIONS');

/**
 * Keeps one `Scheduler` running for the life of the app: once Postgres is migrated and NATS
 * is connected it provisions the `scheduler` durable consumer and starts a replica; a new NATS
 * connection gets a new replica. On shutdown (before the core module closes NATS and the pool)
 * it stops claiming, gives its leases back and stops the consumer.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Scheduler');
  private readonly stopping = new AbortController();
  private readonly metrics: SchedulerMetrics;
  private current: Scheduler | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly database: DatabaseRuntime,
    private readonly nats: NatsRuntime,
    private readonly store: PostgresEventStore,
    @Inject(CONFIG) private readonly config: CronicornConfig,
    @Inject(SCHEDULER_CLOCK) private readonly clock: Clock,
    @Inject(SCHEDULER_OPTIONS) private readonly options: Partial<SchedulerOptions>,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.metrics = schedulerMetrics(registry);
  }

  /** The running replica, if any (tests and diagnostics). */
  get scheduler(): Scheduler | null {
    return this.current;
  }

  onApplicationBootstrap(): void {
    this.running = this.supervise().catch((error: unknown) =>
      this.log.error(`scheduler supervisor failed: ${describeError(error)}`),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    const scheduler = this.current;
    if (scheduler) {
      this.log.log('stopping: no new claims; giving leases back');
      await scheduler.stop();
      this.current = null;
    }
    await this.running;
    this.log.log('scheduler stopped');
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
      const consumerName = this.options.consumerName ?? 'scheduler';
      try {
        await provisionConsumer(
          handle.jsm,
          handle.names.eventsStream,
          schedulerConsumerSpec(handle.names, consumerName),
        );
      } catch (error) {
        failures += 1;
        this.log.warn(`cannot provision the scheduler consumer (${describeError(error)}); retrying`);
        await sleep(backoffMs(failures, 500, 15_000), this.stopping.signal);
        continue;
      }
      failures = 0;
      const scheduler = new Scheduler({
        pool: this.database.pool,
        store: this.store,
        js: handle.js,
        names: handle.names,
        clock: this.clock,
        options: { governor: { aiMaxPauseMs: this.config.aiMaxPauseMs }, ...this.options },
        logger: nestMessagingLogger('Scheduler'),
        metrics: this.metrics,
      });
      this.current = scheduler;
      scheduler.start();
      this.log.log(`scheduling as ${scheduler.owner}; clock ${this.clockNote()}`);
      await Promise.race([handle.nc.closed(), this.stopped]);
      if (this.stopping.signal.aborted) return;
      await scheduler.stop();
      this.current = null;
    }
  }

  private clockNote(): string {
    const offset = this.clock.now().getTime() - Date.now();
    return Math.abs(offset) < 5 ? 'system' : `offset ${offset} ms (CRONICORN_CLOCK_OFFSET_MS)`;
  }
}
