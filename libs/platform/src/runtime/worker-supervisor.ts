import { backoffMs, sleep } from '@cronicorn/messaging';
import type { DatabaseRuntime } from './database.runtime';
import type { NatsHandle, NatsRuntime } from './nats.runtime';
import { describeError } from './retry';

/** What a supervised worker offers: a stop that lets the work in flight finish. */
export interface SupervisedWorker {
  stop(): Promise<void>;
}

/** Where the supervisor writes its lines; Nest's `Logger` fits. */
export interface SupervisorLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What one app's long-running NATS worker needs from its supervisor. */
export interface WorkerSupervisorOptions<W extends SupervisedWorker> {
  /** In log lines: "cannot provision the <name> consumer", "<name> stopped". */
  name: string;
  database: Pick<DatabaseRuntime, 'ready'>;
  nats: Pick<NatsRuntime, 'ready'>;
  /** Creates the worker's durable consumer on each connection; retried with backoff until it succeeds. */
  provision?(handle: NatsHandle): Promise<unknown>;
  /** Creates and starts a worker on this connection. */
  start(handle: NatsHandle): W;
  logger: SupervisorLogger;
  /** Logged when shutdown finds a worker running, before stopping it. */
  stoppingMessage?: string;
}

/**
 * Keeps one worker running for the life of an app: once Postgres is migrated and NATS is
 * connected it provisions the worker's consumer and starts a worker; when that connection
 * closes for good it stops the worker and starts a new one on the next connection. `stop()`
 * (call it before the core module closes NATS and the pool) stops the worker and the loop.
 */
export class WorkerSupervisor<W extends SupervisedWorker> {
  private readonly stopping = new AbortController();
  /** Resolves with `null` on `stop()`; one listener for the life of the supervisor. */
  private readonly stopped: Promise<null>;
  private worker: W | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly options: WorkerSupervisorOptions<W>) {
    const signal = this.stopping.signal;
    this.stopped = new Promise((resolve) =>
      signal.addEventListener('abort', () => resolve(null), { once: true }),
    );
  }

  /** The running worker, if any. */
  get current(): W | null {
    return this.worker;
  }

  start(): void {
    this.running ??= this.supervise().catch((error: unknown) =>
      this.options.logger.error(`${this.options.name} supervisor failed: ${describeError(error)}`),
    );
  }

  /** Stops the running worker (its work in flight finishes), then the loop. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    this.options.logger.log(`${this.options.name} stopped`);
  }

  private async supervise(): Promise<void> {
    const { name, database, nats, logger } = this.options;
    const signal = this.stopping.signal;
    if ((await Promise.race([database.ready.then(() => true), this.stopped])) === null) return;
    let failures = 0;
    while (!signal.aborted) {
      const handle = await Promise.race([nats.ready, this.stopped]);
      if (!handle || signal.aborted) return;
      try {
        await this.options.provision?.(handle);
      } catch (error) {
        failures += 1;
        logger.warn(`cannot provision the ${name} consumer (${describeError(error)}); retrying`);
        await sleep(backoffMs(failures, 500, 15_000), signal);
        continue;
      }
      // Shutdown began while provisioning: do not start a worker nobody would stop.
      if (signal.aborted) return;
      failures = 0;
      const worker = this.options.start(handle);
      this.worker = worker;
      await Promise.race([handle.nc.closed(), this.stopped]);
      if (signal.aborted) logger.log(this.options.stoppingMessage ?? `stopping the ${name}`);
      await worker.stop();
      this.worker = null;
    }
  }
}
