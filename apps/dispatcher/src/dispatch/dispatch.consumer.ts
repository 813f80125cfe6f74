import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { backoffMs, JetStreamWorker, PostgresDeadLetters, provisionConsumer } from '@cronicorn/messaging';
import {
  DatabaseRuntime,
  NatsHandle,
  NatsRuntime,
  nestMessagingLogger,
  WorkerSupervisor,
} from '@cronicorn/platform';
import { DispatcherSettings } from '../dispatcher.settings';
import { RunDispatcher } from './run-dispatcher';
import { parseWorkItem } from './work-item';

export const DISPATCHER_SETTINGS = Symbol('DISPATCHER_SETTINGS');

/** Replicas the work-queue consumer's `maxAckPending` leaves room for (the KEDA overlay's maximum). */
const MAX_REPLICAS = 20;

/**
 * Runs the `CRONICORN_DISPATCH` consumer for the life of the app: once Postgres is migrated
 * and NATS is connected it provisions the durable `dispatcher` consumer and starts a
 * {@link JetStreamWorker}; a new NATS connection gets a new worker. On shutdown it stops
 * pulling, gives back buffered items and waits for the calls in flight to finish and be
 * recorded, before the core module closes NATS and Postgres.
 */
@Injectable()
export class DispatchConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly supervisor: WorkerSupervisor<JetStreamWorker>;

  constructor(
    private readonly database: DatabaseRuntime,
    nats: NatsRuntime,
    private readonly dispatcher: RunDispatcher,
    @Inject(DISPATCHER_SETTINGS) private readonly settings: DispatcherSettings,
  ) {
    const log = new Logger('DispatchConsumer');
    this.supervisor = new WorkerSupervisor({
      name: 'dispatcher',
      database,
      nats,
      logger: log,
      stoppingMessage: 'stopping: no new work items; waiting for calls in flight to finish',
      provision: (handle) => this.provision(handle),
      start: (handle) => {
        const worker = this.createWorker(handle);
        worker.start();
        log.log(
          `consuming ${handle.names.dispatchStream} as "${settings.durable}" (concurrency ${settings.concurrency}, ack wait ${settings.ackWaitMs} ms)`,
        );
        return worker;
      },
    });
  }

  onApplicationBootstrap(): void {
    this.supervisor.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.supervisor.stop();
  }

  private provision(handle: NatsHandle) {
    return provisionConsumer(handle.jsm, handle.names.dispatchStream, {
      durable: this.settings.durable,
      filterSubject: handle.names.allDispatch,
      ackWaitMs: this.settings.ackWaitMs,
      maxDeliver: this.settings.maxDeliver,
      // Unacked items across all replicas: each holds its slots' items and as many more
      // waiting (the worker's buffer), and up to 20 replicas must not starve each other.
      maxAckPending: Math.max(10_000, this.settings.concurrency * 2 * MAX_REPLICAS),
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
