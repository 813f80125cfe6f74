import type { EventEnvelope } from '@cronicorn/events';
import { EVENTS_NOTIFY_CHANNEL, EventStore } from '@cronicorn/event-store';
import {
  backoffMs,
  consoleLogger,
  errorFields,
  LogTail,
  MessagingLogger,
  sleep,
  Wakeup,
  withTimeout,
} from '@cronicorn/messaging';
import {
  PROJECTOR_CONSUMER,
  PROJECTOR_CONTROL_CHANNEL,
  projectLogPage,
  STEP_DOWN,
  tryProjectorLock,
} from '@cronicorn/read-models';
import type { Notification, Pool, PoolClient } from 'pg';

export interface ProjectorRunnerMetrics {
  /** An event of the log was read and its page committed. */
  onApplied?(envelope: EventEnvelope): void;
  /** This process started or stopped being the one writing the read models. */
  onActive?(active: boolean): void;
}

export interface ProjectorRunnerOptions {
  pool: Pool;
  store: Pick<EventStore, 'readStream' | 'readAll'>;
  /** Resolves when the database is migrated. */
  ready?: Promise<unknown>;
  /** Row of its checkpoint in `consumer_checkpoints`. Default `projector`. */
  consumerName?: string;
  /** How often a standby replica tries the lock. Default 3 s. */
  standbyRetryMs?: number;
  /** How often the active projector proves its lock session is alive. Default 2 s. */
  lockCheckMs?: number;
  /** How long that proof may take before the session counts as lost. Default 10 s. */
  lockCheckTimeoutMs?: number;
  /** How often it reads the log when no append woke it. Default 1 s. */
  pollIntervalMs?: number;
  /** After catching up and being woken, how long to wait for more appends to share the page. Default 25 ms. */
  lingerMs?: number;
  logger?: MessagingLogger;
  metrics?: ProjectorRunnerMetrics;
}

/**
 * Keeps the read models up with the log in at most one process at a time.
 *
 * The active projector holds `pg_try_advisory_lock` (the projector lock) on a dedicated
 * connection, on which it also LISTENs for appends and for a step-down request from
 * `projector:rebuild`. Other replicas stand by and retry the lock. While active it steps a
 * `LogTail` (ADR 0031): a page of the log after its checkpoint applied (`projectLogPage`) and
 * the checkpoint moved in one transaction, then the next page, or a wait for an append. The
 * term ends when the process stops, the lock session dies or a rebuild asks: the step running
 * finishes, then the session is closed, which drops the lock. A lock session that goes silent
 * is closed first.
 */
export class ProjectorRunner {
  private readonly logger: MessagingLogger;
  private readonly stopController = new AbortController();
  private running: Promise<void> | null = null;
  private active = false;

  /** Stepped here, under the projector lock that a rebuild takes, not by its own leadership. */
  private readonly tail: LogTail;

  constructor(private readonly options: ProjectorRunnerOptions) {
    this.logger = options.logger ?? consoleLogger;
    this.tail = new LogTail({
      pool: options.pool,
      store: options.store,
      name: this.consumerName,
      handle: async (envelopes, client) => void (await projectLogPage(envelopes, client, options.store)),
      onHandled: (envelopes) => envelopes.forEach((envelope) => options.metrics?.onApplied?.(envelope)),
      // Read models are rebuilt from the log: a commit lost in a Postgres crash is redone.
      durableCommit: false,
      logger: this.logger,
    });
  }

  get isActive(): boolean {
    return this.active;
  }

  get consumerName(): string {
    return this.options.consumerName ?? PROJECTOR_CONSUMER;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops consuming (in-flight events finish), releases the lock and returns. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    if (this.options.ready) await Promise.race([this.options.ready, aborted(this.stopController.signal)]);
    let failures = 0;
    let standingBy = false;
    while (!this.stopping) {
      const term = new AbortController();
      const endTerm = () => term.abort();
      this.stopController.signal.addEventListener('abort', endTerm, { once: true });
      let client: PoolClient | null = null;
      let broken: Error | undefined;
      const dropLock = (error: Error) => {
        broken ??= error;
        this.setActive(false);
        client?.release(error);
        client = null;
      };
      try {
        client = await this.options.pool.connect();
        const onError = (err: Error) => {
          broken = err;
          this.logger.warn(
            { consumer: this.consumerName, ...errorFields(err) },
            'projector lock connection failed',
          );
          term.abort();
        };
        client.on('error', onError);
        if (!(await tryProjectorLock(client))) {
          if (!standingBy)
            this.logger.info({ consumer: this.consumerName }, 'another projector is active; standing by');
          standingBy = true;
          failures = 0;
          client.off('error', onError);
          client.release();
          client = null;
          await sleep(this.options.standbyRetryMs ?? 3_000, this.stopController.signal);
          continue;
        }
        standingBy = false;
        client.on('notification', (message: Notification) => {
          if (message.channel !== PROJECTOR_CONTROL_CHANNEL || message.payload !== STEP_DOWN) return;
          this.logger.info({ consumer: this.consumerName }, 'a rebuild asked the projector to step down');
          term.abort();
        });
        await client.query(`LISTEN ${PROJECTOR_CONTROL_CHANNEL}`);
        await this.lead(client, term, dropLock);
        failures = 0;
      } catch (err) {
        if (!this.stopping) {
          failures += 1;
          broken ??= err instanceof Error ? err : new Error(String(err));
          this.logger.warn(
            { consumer: this.consumerName, attempt: failures, ...errorFields(err) },
            'projector failed; retrying',
          );
        }
      } finally {
        this.stopController.signal.removeEventListener('abort', endTerm);
        this.setActive(false);
        // Closing the session drops the advisory lock and the LISTEN with it.
        client?.release(broken ?? true);
      }
      if (failures > 0 && !this.stopping)
        await sleep(backoffMs(failures, 250, 15_000), this.stopController.signal);
    }
  }

  private async lead(
    lockClient: PoolClient,
    term: AbortController,
    dropLock: (error: Error) => void,
  ): Promise<void> {
    const signal = term.signal;
    const wakeup = new Wakeup();
    lockClient.on('notification', (message: Notification) => {
      if (message.channel === EVENTS_NOTIFY_CHANNEL) wakeup.wake();
    });
    await lockClient.query(`LISTEN ${EVENTS_NOTIFY_CHANNEL}`);
    this.setActive(true);
    // Beside the steps, not between them: a step hung on a dead connection must not keep a
    // lock this process may no longer hold.
    const lockFailure = this.checkLock(lockClient, term, dropLock).then(
      () => null,
      (error: unknown) => error,
    );
    try {
      while (!signal.aborted) {
        const { more } = await this.tail.step();
        if (more) continue;
        await wakeup.wait(this.options.pollIntervalMs ?? 1_000, signal);
        // Appends commit a few at a time: a page per commit would cost a transaction each.
        await sleep(this.options.lingerMs ?? 25, signal);
      }
    } finally {
      term.abort();
    }
    const failure = await lockFailure;
    if (failure) throw failure;
  }

  /** Proves the lock's session is alive every `lockCheckMs`; on failure drops it and ends the term. */
  private async checkLock(
    lockClient: PoolClient,
    term: AbortController,
    dropLock: (error: Error) => void,
  ): Promise<void> {
    const timeoutMs = this.options.lockCheckTimeoutMs ?? 10_000;
    while (!term.signal.aborted) {
      await sleep(this.options.lockCheckMs ?? 2_000, term.signal);
      if (term.signal.aborted) return;
      try {
        await withTimeout(lockClient.query('SELECT 1'), timeoutMs, 'projector lock check');
      } catch (error) {
        // A dead session has dropped the lock: another projector may be writing already.
        dropLock(error instanceof Error ? error : new Error(String(error)));
        term.abort();
        throw error;
      }
    }
  }

  private setActive(active: boolean): void {
    if (this.active === active) return;
    this.active = active;
    this.logger.info(
      { consumer: this.consumerName, active },
      active ? 'projector is active: writing the read models' : 'projector stopped writing the read models',
    );
    this.options.metrics?.onActive?.(active);
  }
}

function aborted(signal: AbortSignal): Promise<null> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(null);
    signal.addEventListener('abort', () => resolve(null), { once: true });
  });
}
