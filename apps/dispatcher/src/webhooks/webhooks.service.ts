import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { PostgresEventStore } from '@cronicorn/event-store';
import { LogTail } from '@cronicorn/messaging';
import {
  DatabaseRuntime,
  describeError,
  METRICS_REGISTRY,
  NatsRuntime,
  nestMessagingLogger,
  retireEventsConsumer,
  SecretBox,
} from '@cronicorn/platform';
import type { Registry } from 'prom-client';
import { HttpExecutor } from '../http/http-executor';
import { WebhookDeliveryLoop } from './webhook-delivery-loop';
import { queueDeliveries, subscribedTenants } from './webhook-matcher';
import { WebhookMetrics } from './webhooks.metrics';
import { WebhookSettings } from './webhooks.settings';

export const WEBHOOK_SETTINGS = Symbol('WEBHOOK_SETTINGS');
export const WEBHOOK_EXECUTOR = Symbol('WEBHOOK_EXECUTOR');
export const WEBHOOK_SECRET_BOX = Symbol('WEBHOOK_SECRET_BOX');

/** The JetStream durable that queued deliveries before the log tail (ADR 0031). */
const RETIRED_DURABLE = 'webhooks';

/**
 * Outbound webhooks in the dispatcher app, for its whole life:
 * - the log tail queues deliveries for matching subscriptions, idempotently (one replica at a
 *   time reads the event log);
 * - the delivery loop POSTs due deliveries, with retries.
 * Both need only Postgres.
 * On shutdown both stop, calls in flight finish and are recorded, then the pooled
 * connections of the executor are closed.
 */
@Injectable()
export class WebhooksService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Webhooks');
  private readonly stopping = new AbortController();
  private readonly loop: WebhookDeliveryLoop;
  private readonly tail: LogTail;
  private running: Promise<void> | null = null;

  constructor(
    private readonly database: DatabaseRuntime,
    private readonly nats: NatsRuntime,
    store: PostgresEventStore,
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
    let queued = false;
    this.tail = new LogTail({
      pool: database.pool,
      store,
      name: settings.tailName,
      tenantsOf: subscribedTenants,
      handle: async (events, client) => {
        if ((await queueDeliveries(events, client)).size > 0) queued = true;
      },
      onHandled: () => {
        if (queued) this.loop.wake();
        queued = false;
      },
      // What it queues is redone from the log when a crash loses the commit.
      durableCommit: false,
      pollIntervalMs: settings.tailPollMs,
      logger: nestMessagingLogger('WebhooksTail'),
    });
  }

  /** The log tail (tests, diagnostics). */
  get logTail(): LogTail {
    return this.tail;
  }

  /** The delivery loop (tests, diagnostics). */
  get deliveryLoop(): WebhookDeliveryLoop {
    return this.loop;
  }

  onApplicationBootstrap(): void {
    this.running = this.start().catch((error: unknown) =>
      this.log.error(`webhooks failed to start: ${describeError(error)}`),
    );
    void this.removeRetiredDurable();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.running;
    await Promise.all([this.tail.stop(), this.loop.stop()]);
    this.executor.close();
    this.log.log('webhooks stopped');
  }

  private async start(): Promise<void> {
    await Promise.race([this.database.ready, this.stopped]);
    if (this.stopping.signal.aborted) return;
    this.loop.start();
    this.tail.start();
    this.log.log(`webhooks tail "${this.settings.tailName}" started`);
  }

  private async removeRetiredDurable(): Promise<void> {
    const handle = await Promise.race([this.nats.ready, this.stopped]);
    if (handle) await retireEventsConsumer(handle, RETIRED_DURABLE, 'webhooks tail the log', this.log);
  }

  private get stopped(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping.signal.aborted) resolve();
      else this.stopping.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }
}
