import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { PostgresEventStore } from '@cronicorn/event-store';
import {
  DatabaseRuntime,
  METRIC_PREFIX,
  METRICS_REGISTRY,
  nestMessagingLogger,
  NatsRuntime,
} from '@cronicorn/platform';
import { Counter, Gauge, Registry } from 'prom-client';
import { ProjectorRunner, ProjectorRunnerMetrics } from './projector.runner';

/**
 * The projector app's one job: keep a `ProjectorRunner` going from bootstrap to shutdown.
 * It stops in `onModuleDestroy`, before the core module closes the pool and NATS.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnModuleDestroy {
  readonly runner: ProjectorRunner;

  constructor(
    database: DatabaseRuntime,
    nats: NatsRuntime,
    store: PostgresEventStore,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.runner = new ProjectorRunner({
      pool: database.pool,
      store,
      nats: () => nats.ready,
      ready: database.ready,
      logger: nestMessagingLogger('Projector'),
      metrics: projectorMetrics(registry),
    });
  }

  onApplicationBootstrap(): void {
    this.runner.start();
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
    help: 'Events applied to the read models, by the path that delivered them',
    labelNames: ['via'] as const,
    registers: [registry],
  });
  const active = new Gauge({
    name: `${METRIC_PREFIX}projector_active`,
    help: '1 while this process holds the projector lock and writes the read models',
    registers: [registry],
  });
  return {
    onApplied: (envelope, via) => {
      lag.set(Math.max(0, Date.now() - Date.parse(envelope.occurredAt)) / 1000);
      applied.inc({ via });
    },
    onActive: (isActive) => active.set(isActive ? 1 : 0),
  };
}
