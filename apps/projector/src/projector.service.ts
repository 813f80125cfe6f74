import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { PostgresEventStore } from '@cronicorn/event-store';
import {
  DatabaseRuntime,
  METRIC_PREFIX,
  METRICS_REGISTRY,
  nestMessagingLogger,
  NatsRuntime,
  retireEventsConsumer,
} from '@cronicorn/platform';
import { Counter, Gauge, Registry } from 'prom-client';
import { ProjectorRunner, ProjectorRunnerMetrics } from './projector.runner';

/** The JetStream durable the projector read before it tailed the log (ADR 0031). */
const RETIRED_DURABLE = 'projector';

/**
 * The projector app's one job: keep a `ProjectorRunner` going from bootstrap to shutdown.
 * It stops in `onModuleDestroy`, before the core module closes the pool and NATS.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnModuleDestroy {
  readonly runner: ProjectorRunner;
  private readonly log = new Logger('Projector');

  constructor(
    database: DatabaseRuntime,
    private readonly nats: NatsRuntime,
    store: PostgresEventStore,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.runner = new ProjectorRunner({
      pool: database.pool,
      store,
      ready: database.ready,
      logger: nestMessagingLogger('Projector'),
      metrics: projectorMetrics(registry),
    });
  }

  onApplicationBootstrap(): void {
    this.runner.start();
    void this.removeRetiredDurable();
  }

  /** An upgraded deployment still has the durable: nothing reads it, so its backlog only grows. */
  private async removeRetiredDurable(): Promise<void> {
    const handle = await this.nats.ready.catch(() => null);
    if (handle) await retireEventsConsumer(handle, RETIRED_DURABLE, 'the projector tails the log', this.log);
  }

  async onModuleDestroy(): Promise<void> {
    await this.runner.stop();
  }
}

function projectorMetrics(registry: Registry): ProjectorRunnerMetrics {
  const lag = new Gauge({
    name: `${METRIC_PREFIX}projector_lag_seconds`,
    help: 'Now minus occurredAt of the last event applied to the read models, when it was applied',
    registers: [registry],
  });
  const applied = new Counter({
    name: `${METRIC_PREFIX}projector_events_total`,
    help: 'Events of the log read into the read models (their pages committed)',
    registers: [registry],
  });
  const active = new Gauge({
    name: `${METRIC_PREFIX}projector_active`,
    help: '1 while this process holds the projector lock and writes the read models',
    registers: [registry],
  });
  return {
    onApplied: (envelope) => {
      lag.set(Math.max(0, Date.now() - Date.parse(envelope.occurredAt)) / 1000);
      applied.inc();
    },
    onActive: (isActive) => active.set(isActive ? 1 : 0),
  };
}
