import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import {
  backoffMs,
  JetStreamWorker,
  PostgresDeadLetters,
  provisionConsumer,
  sleep,
} from '@cronicorn/messaging';
import {
  DatabaseRuntime,
  describeError,
  NatsHandle,
  NatsRuntime,
  nestMessagingLogger,
} from '@cronicorn/platform';
import { DispatcherSettings } from '../dispatcher.settings';
import { RunDispatcher } from './run-dispatcher';
import { parseWorkItem } from './work-item';

export const DISPATCHER_SETTINGS = Symbol('DISPATCHER_SETTINGS');

/**
 * Runs the `CRONICORN_DISPATCH` consumer for the life of the app: once Postgres is migrated
 * and NATS is connected it provisions the durable `dispatcher` consumer and starts a
 * {@link JetStreamWorker}; a new NATS connection gets a new worker. On shutdown it stops
 * pulling, gives back buffered items and waits for the calls in flight to finish and be
 * recorded, before the core module closes NATS and Postgres.
 */
@Injectable()
export class DispatchConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('DispatchConsumer');
  private readonly stopping = new AbortController();
  private worker: JetStreamWorker | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly database: DatabaseRuntime,
    private readonly nats: NatsRuntime,
    private readonly dispatcher: RunDispatcher,
    @Inject(DISPATCHER_SETTINGS) private readonly settings: DispatcherSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.running = this.supervise().catch((error: unknown) =>
      this.log.error(`dispatch consumer failed: ${describeError(error)}`),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    const worker = this.worker;
    if (worker) {
      this.log.log('stopping: no new work items; waiting for calls in flight to finish');
      await worker.stop();
    }
    await this.running;
    this.log.log('dispatch consumer stopped');
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
        await this.provision(handle);
      } catch (error) {
        failures += 1;
        this.log.warn(`cannot provision the dispatcher consumer (${describeError(error)}); retrying`);
        await sleep(backoffMs(failures, 500, 15_000), this.stopping.signal);
        continue;
      }
      failures = 0;
      const worker = this.createWorker(handle);
      this.worker = worker;
      worker.start();
      this.log.log(
        `consuming ${handle.names.dispatchStream} as "${this.settings.durable}" (concurrency ${this.settings.concurrency}, ack wait ${this.settings.ackWaitMs} ms)`,
      );
      await Promise.race([handle.nc.closed(), this.stopped]);
      if (this.stopping.signal.aborted) return;
      await worker.stop();
      this.worker = null;
    }
  }

  private provision(handle: NatsHandle) {
    return provisionConsumer(handle.jsm, handle.names.dispatchStream, {
      durable: this.settings.durable,
      filterSubject: handle.names.allDispatch,
      ackWaitMs: this.settings.ackWaitMs,
      maxDeliver: this.settings.maxDeliver,
      // Unacked items across all replicas; well above any replica's concurrency.
      maxAckPending: Math.max(1_000, this.settings.concurrency * 4),
      description: 'Dispatchers: due runs to call (work queue)',
    });
  }

  private createWorker(handle: NatsHandle): JetStreamWorker {
    const { baseMs, maxMs } = this.settings.retryDelay;
    return new JetStreamWorker({
      js: handle.js,
      stream: handle.names.dispatchStream,
      durable: this.settings.durable,
      concurrency: this.settings.concurrency,
      maxDeliver: this.settings.maxDeliver,
      heartbeatMs: this.settings.heartbeatMs,
      retryDelayMs: (deliveryCount) => backoffMs(deliveryCount, baseMs, maxMs),
      deadLetters: new PostgresDeadLetters(this.database.pool),
      logger: nestMessagingLogger('DispatchWorker'),
      handler: async (msg: JsMsg) => {
        const item = parseWorkItem(msg.string());
        await this.dispatcher.dispatch(item, { seq: msg.seq, deliveryCount: msg.info.deliveryCount });
      },
    });
  }
}
