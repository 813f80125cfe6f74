import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { STREAM_CATEGORIES } from '@cronicorn/events';
import { PostgresEventStore } from '@cronicorn/event-store';
import { backoffMs, EventConsumer, eventConsumerSpec, provisionConsumer, sleep } from '@cronicorn/messaging';
import {
  DatabaseRuntime,
  describeError,
  METRICS_REGISTRY,
  NatsHandle,
  NatsRuntime,
  nestMessagingLogger,
  SecretBox,
} from '@cronicorn/platform';
import type { Registry } from 'prom-client';
import { HttpExecutor } from '../http/http-executor';
import { WebhookDeliveryLoop } from './webhook-delivery-loop';
import { queueDeliveries } from './webhook-matcher';
import { WebhookMetrics } from './webhooks.metrics';
import { WebhookSettings } from './webhooks.settings';

export const WEBHOOK_SETTINGS = Symbol('WEBHOOK_SETTINGS');
export const WEBHOOK_EXECUTOR = Symbol('WEBHOOK_EXECUTOR');
export const WEBHOOK_SECRET_BOX = Symbol('WEBHOOK_SECRET_BOX');

/**
 * Outbound webhooks in the dispatcher app, for its whole life:
 * - the `webhooks` EventConsumer (every category) queues deliveries for matching
 *   subscriptions, in its own transaction, idempotently; it restarts on a new NATS connection;
 * - the delivery loop POSTs due deliveries, with retries; it needs only Postgres.
 * On shutdown both stop, calls in flight finish and are recorded, then the pooled
 * connections of the executor are closed.
 */
@Injectable()
export class WebhooksService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Webhooks');
  private readonly stopping = new AbortController();
  private readonly loop: WebhookDeliveryLoop;
  private consumer: EventConsumer | null = null;
  private running: Promise<void> | null = null;
  /** Events whose transaction queued deliveries: wake the loop once they commit. */
  private readonly queued = new Set<string>();

  constructor(
    private readonly database: DatabaseRuntime,
    private readonly nats: NatsRuntime,
    private readonly store: PostgresEventStore,
    @Inject(WEBHOOK_SETTINGS) private readonly settings: WebhookSettings,
    @Inject(WEBHOOK_EXECUTOR) private readonly executor: HttpExecutor,
    @Inject(WEBHOOK_SECRET_BOX) secretBox: SecretBox | null,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.loop = new WebhookDeliveryLoop({
      pool: database.pool,
      executor,
      secretBox,
      settings,
      owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
      logger: nestMessagingLogger('WebhookDelivery'),
      metrics: new WebhookMetrics(registry),
    });
  }

  /** The delivery loop (tests, diagnostics). */
  get deliveryLoop(): WebhookDeliveryLoop {
    return this.loop;
  }

  onApplicationBootstrap(): void {
    this.running = this.supervise().catch((error: unknown) =>
      this.log.error(`webhooks supervisor failed: ${describeError(error)}`),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await Promise.all([this.consumer?.stop(), this.loop.stop()]);
    await this.running;
    this.executor.close();
    this.log.log('webhooks stopped');
  }

  private get stopped(): Promise<null> {
    return new Promise((resolve) => {
      if (this.stopping.signal.aborted) resolve(null);
      else this.stopping.signal.addEventListener('abort', () => resolve(null), { once: true });
    });
  }

  private async supervise(): Promise<void> {
    if ((await Promise.race([this.database.ready.then(() => true), this.stopped])) === null) return;
    this.loop.start();
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      const handle = await Promise.race([this.nats.ready, this.stopped]);
      if (!handle || this.stopping.signal.aborted) return;
      try {
        await provisionConsumer(
          handle.jsm,
          handle.names.eventsStream,
          eventConsumerSpec(this.settings.consumerName, handle.names, STREAM_CATEGORIES, {
            description: 'webhooks: queues outbound webhook deliveries',
          }),
        );
      } catch (error) {
        failures += 1;
        this.log.warn(`cannot provision the webhooks consumer (${describeError(error)}); retrying`);
        await sleep(backoffMs(failures, 500, 15_000), this.stopping.signal);
        continue;
      }
      failures = 0;
      const consumer = this.createConsumer(handle);
      this.consumer = consumer;
      consumer.start();
      this.log.log(
        `webhooks consumer "${this.settings.consumerName}" started on ${handle.names.eventsStream}`,
      );
      await Promise.race([handle.nc.closed(), this.stopped]);
      if (this.stopping.signal.aborted) return;
      await consumer.stop();
      this.consumer = null;
    }
  }

  private createConsumer(handle: NatsHandle): EventConsumer {
    return new EventConsumer({
      name: this.settings.consumerName,
      names: handle.names,
      categories: STREAM_CATEGORIES,
      js: handle.js,
      pool: this.database.pool,
      store: this.store,
      sweepIntervalMs: this.settings.sweepIntervalMs,
      // A lost commit loses its version rows too: the gap check and the sweep queue again.
      durableCommit: false,
      // Subscriptions commit before the events they get: matched only once those have.
      settledOnly: true,
      batchSize: 200,
      // Deliveries are queued for a loop that retries over hours: a tenth of a second is nothing.
      lingerMs: 100,
      logger: nestMessagingLogger('WebhooksConsumer'),
      handleBatch: async (envelopes, client) => {
        for (const id of await queueDeliveries(envelopes, client)) this.queued.add(id);
      },
      metrics: {
        onHandled: (envelope) => {
          if (this.queued.delete(envelope.id)) this.loop.wake();
        },
      },
    });
  }
}
