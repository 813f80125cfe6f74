import { Logger } from '@nestjs/common';
import type { PostgresEventStore } from '@cronicorn/event-store';
import { OutboxRelay, RelayMetrics } from '@cronicorn/messaging';
import { Counter, Gauge, Registry } from 'prom-client';
import type { DatabaseRuntime } from './database.runtime';
import { nestMessagingLogger } from './messaging-logger';
import type { NatsRuntime } from './nats.runtime';
import { METRIC_PREFIX } from './metrics';
import { deferred } from './retry';

/**
 * Runs an `OutboxRelay` in every app once Postgres is migrated and NATS is connected. The
 * relays elect one leader through an advisory lock, so events appended by any app reach
 * JetStream as long as one app is up. A new NATS connection gets a new relay.
 */
export class RelaySupervisor {
  private readonly log = new Logger('OutboxRelay');
  private readonly stopped = deferred<void>();
  private isStopping = false;
  private relay: OutboxRelay | null = null;
  private running: Promise<void> | null = null;
  private readonly metrics: RelayMetrics;

  constructor(
    private readonly database: DatabaseRuntime,
    private readonly nats: NatsRuntime,
    private readonly store: PostgresEventStore,
    registry: Registry,
    private readonly enabled = true,
  ) {
    this.metrics = relayMetrics(registry);
  }

  get isLeader(): boolean {
    return this.relay?.isLeader ?? false;
  }

  start(): void {
    if (!this.enabled) return;
    this.running ??= this.supervise().catch((error: unknown) =>
      this.log.error(`relay supervisor failed: ${String(error)}`),
    );
  }

  private async supervise(): Promise<void> {
    await Promise.race([this.database.ready, this.stopped.promise]);
    while (!this.isStopping) {
      const handle = await Promise.race([this.nats.ready, this.stopped.promise]);
      if (!handle || this.isStopping) return;
      const relay = new OutboxRelay({
        pool: this.database.pool,
        store: this.store,
        js: handle.js,
        names: handle.names,
        logger: nestMessagingLogger('OutboxRelay'),
        metrics: this.metrics,
      });
      this.relay = relay;
      relay.start();
      await Promise.race([handle.nc.closed(), this.stopped.promise]);
      await relay.stop();
      this.relay = null;
    }
  }

  async stop(): Promise<void> {
    this.isStopping = true;
    this.stopped.resolve();
    await this.relay?.stop();
    await this.running;
  }
}

function relayMetrics(registry: Registry): RelayMetrics {
  const published = new Counter({
    name: `${METRIC_PREFIX}relay_published_events_total`,
    help: 'Events the outbox relay published to JetStream',
    registers: [registry],
  });
  const duplicates = new Counter({
    name: `${METRIC_PREFIX}relay_duplicate_publishes_total`,
    help: 'Re-published events JetStream dropped by Nats-Msg-Id',
    registers: [registry],
  });
  const lag = new Gauge({
    name: `${METRIC_PREFIX}relay_lag_seconds`,
    help: 'Age of the last event the relay published when it was acknowledged',
    registers: [registry],
  });
  const leader = new Gauge({
    name: `${METRIC_PREFIX}relay_leader`,
    help: '1 while this process holds the relay leadership',
    registers: [registry],
  });
  const errors = new Counter({
    name: `${METRIC_PREFIX}relay_errors_total`,
    help: 'Relay failures (each is retried)',
    registers: [registry],
  });
  return {
    onPublished: (batch) => {
      published.inc(batch.count);
      duplicates.inc(batch.duplicates);
      lag.set(batch.lagMs / 1000);
    },
    onLeadership: (isLeader) => leader.set(isLeader ? 1 : 0),
    onError: () => errors.inc(),
  };
}
