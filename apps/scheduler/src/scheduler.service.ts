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
  WorkerSupervisor,
} from '@cronicorn/platform';
import type { Registry } from 'prom-client';
import { provisionSchedulerConsumers, Scheduler } from './scheduler';
import { schedulerMetrics } from './scheduler.metrics';
import { SchedulerOptions } from './scheduler.options';

export const SCHEDULER_CLOCK = Symbol('SCHEDULER_CLOCK');
export const SCHEDULER_OPTIONS = Symbol('SCHEDULER_OPTIONS');

/**
 * Keeps one `Scheduler` running for the life of the app: once Postgres is migrated and NATS
 * is connected it provisions the scheduler's durable consumers and starts a replica; a new NATS
 * connection gets a new replica. On shutdown (before the core module closes NATS and the pool)
 * it stops claiming, gives its leases back and stops the consumer.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly supervisor: WorkerSupervisor<Scheduler>;

  constructor(
    database: DatabaseRuntime,
    nats: NatsRuntime,
    store: PostgresEventStore,
    @Inject(CONFIG) config: CronicornConfig,
    @Inject(SCHEDULER_CLOCK) clock: Clock,
    @Inject(SCHEDULER_OPTIONS) options: Partial<SchedulerOptions>,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    const log = new Logger('Scheduler');
    const metrics = schedulerMetrics(registry);
    this.supervisor = new WorkerSupervisor({
      name: 'scheduler',
      database,
      nats,
      logger: log,
      stoppingMessage: 'stopping: no new claims; giving leases back',
      provision: (handle) => provisionSchedulerConsumers(handle.jsm, handle.names, options.consumerName),
      start: (handle) => {
        const scheduler = new Scheduler({
          pool: database.pool,
          store,
          js: handle.js,
          names: handle.names,
          clock,
          options: { governor: { aiMaxPauseMs: config.aiMaxPauseMs }, ...options },
          logger: nestMessagingLogger('Scheduler'),
          metrics,
        });
        scheduler.start();
        log.log(`scheduling as ${scheduler.owner}; clock ${clockNote(clock)}`);
        return scheduler;
      },
    });
  }

  /** The running replica, if any (tests and diagnostics). */
  get scheduler(): Scheduler | null {
    return this.supervisor.current;
  }

  onApplicationBootstrap(): void {
    this.supervisor.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.supervisor.stop();
  }
}

function clockNote(clock: Clock): string {
  const offset = clock.now().getTime() - Date.now();
  return Math.abs(offset) < 5 ? 'system' : `offset ${offset} ms (CRONICORN_CLOCK_OFFSET_MS)`;
}
