import type { Notification, Pool, PoolClient } from 'pg';
import { EVENTS_NOTIFY_CHANNEL } from '@cronicorn/event-store';
import { backoffMs, sleep, Wakeup, withTimeout } from './backoff';
import { errorFields, MessagingLogger } from './logger';

/**
 * Leads while it holds the lock. `idle` waits for the next append (a NOTIFY) or the poll
 * interval; `signal` aborts when the process stops, the lock is lost or a step-down is asked.
 * Returning or throwing ends the term (a throw is logged and retried with backoff).
 */
export type LeadFn = (signal: AbortSignal, idle: () => Promise<void>) => Promise<void>;

export interface LogLeadershipOptions {
  pool: Pool;
  /** Name of the advisory lock: one holder in the whole deployment. */
  lockName: string;
  /** Who leads, in log lines ("relay", "webhooks tail"). */
  role: string;
  /** Fields naming this leader in every log line. */
  logFields: Record<string, string>;
  logger: MessagingLogger;
  /** Resolves when the process may start trying the lock (the database is migrated). */
  ready?: Promise<unknown>;
  /** Fallback poll when no NOTIFY arrives. Default 1 s. */
  pollIntervalMs?: number;
  /** How often a standby tries to become the leader. Default 2 s. */
  standbyRetryMs?: number;
  /** Logged once when this replica starts standing by. */
  standbyMessage?: string;
  /** How often the leader proves its lock session is alive. Default 2 s. */
  lockCheckMs?: number;
  /** How long that proof may take before the session counts as lost. Default 10 s. */
  lockCheckTimeoutMs?: number;
  /** A NOTIFY with `payload` on `channel` ends the term (a rebuild taking the lock); `message` is logged. */
  stepDown?: { channel: string; payload: string; message: string };
  onLeadership?(leader: boolean): void;
  onError?(error: unknown): void;
}

/**
 * One leader at a time for a reader that tails the event log, in any number of replicas.
 *
 * The leader holds `pg_try_advisory_lock` on a dedicated connection, on which it also LISTENs
 * to `cronicorn_events` (every append NOTIFYs on commit); the others stand by and retry the
 * lock. When the leader's connection dies, Postgres releases the lock and one of them takes
 * over. Beside the lead, not between its steps, the leader proves its lock session is alive
 * every `lockCheckMs`: one that goes silent is closed and the term ends, even while a step
 * hangs on a dead connection; the server drops the session of a vanished host within seconds
 * by the pool's TCP keepalives. Readers keep their checkpoints moving forward only, so a
 * deposed leader still finishing a step is harmless.
 */
export class LogLeadership {
  private readonly stopController = new AbortController();
  private readonly wakeup = new Wakeup();
  private running: Promise<void> | null = null;
  private leader = false;
  /** Terms in a row that failed before their leader caught up once: the backoff grows with it. */
  private failures = 0;

  constructor(
    private readonly options: LogLeadershipOptions,
    private readonly lead: LeadFn,
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    const { logger, logFields, role } = this.options;
    if (this.options.ready) await Promise.race([this.options.ready, whenAborted(this.stopController.signal)]);
    let standingBy = false;
    while (!this.stopping) {
      const term = new AbortController();
      const endTerm = () => term.abort();
      this.stopController.signal.addEventListener('abort', endTerm, { once: true });
      let client: PoolClient | null = null;
      let broken: Error | undefined;
      const dropLock = (error: Error) => {
        broken ??= error;
        this.setLeader(false);
        client?.release(error);
        client = null;
        term.abort();
      };
      try {
        client = await this.options.pool.connect();
        const onError = (err: Error) => {
          broken = err;
          logger.warn({ ...logFields, ...errorFields(err) }, `${role} lock connection failed`);
          term.abort();
        };
        client.on('error', onError);
        const { rows } = await client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
          [this.options.lockName],
        );
        if (!rows[0].locked) {
          if (!standingBy && this.options.standbyMessage) logger.info(logFields, this.options.standbyMessage);
          standingBy = true;
          client.off('error', onError);
          client.release();
          client = null;
          this.failures = 0;
          await sleep(this.options.standbyRetryMs ?? 2_000, this.stopController.signal);
          continue;
        }
        standingBy = false;
        await this.listen(client, term);
        this.setLeader(true);
        const lockFailure = this.checkLock(client, term.signal, dropLock).then(
          () => null,
          (error: unknown) => error,
        );
        try {
          await this.lead(term.signal, () => this.idle(term.signal));
        } finally {
          term.abort();
        }
        const failure = await lockFailure;
        if (failure) throw failure;
      } catch (err) {
        if (!this.stopping) {
          this.failures += 1;
          broken ??= err instanceof Error ? err : new Error(String(err));
          this.options.onError?.(err);
          logger.warn(
            { ...logFields, attempt: this.failures, ...errorFields(err) },
            `${role} failed; retrying`,
          );
        }
      } finally {
        this.stopController.signal.removeEventListener('abort', endTerm);
        this.setLeader(false);
        // Destroying the session drops the advisory lock and the LISTENs with it.
        client?.release(broken ?? true);
      }
      if (this.failures > 0 && !this.stopping) {
        await sleep(backoffMs(this.failures, 250, 15_000), this.stopController.signal);
      }
    }
  }

  /** Wakes the lead on appends; ends the term on a step-down request. */
  private async listen(client: PoolClient, term: AbortController): Promise<void> {
    const { stepDown, logger, logFields } = this.options;
    client.on('notification', (message: Notification) => {
      if (message.channel === EVENTS_NOTIFY_CHANNEL) this.wakeup.wake();
      else if (stepDown && message.channel === stepDown.channel && message.payload === stepDown.payload) {
        logger.info(logFields, stepDown.message);
        term.abort();
      }
    });
    await client.query(`LISTEN ${EVENTS_NOTIFY_CHANNEL}`);
    if (stepDown) await client.query(`LISTEN ${stepDown.channel}`);
  }

  /** Proves the lock's session is alive every `lockCheckMs`; on failure drops it (and the term). */
  private async checkLock(
    lockClient: PoolClient,
    signal: AbortSignal,
    dropLock: (error: Error) => void,
  ): Promise<void> {
    const timeoutMs = this.options.lockCheckTimeoutMs ?? 10_000;
    while (!signal.aborted) {
      await sleep(this.options.lockCheckMs ?? 2_000, signal);
      if (signal.aborted) return;
      try {
        await withTimeout(lockClient.query('SELECT 1'), timeoutMs, `${this.options.role} lock check`);
      } catch (error) {
        // A dead session has dropped the lock: another replica may be leading already.
        dropLock(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    }
  }

  private async idle(signal: AbortSignal): Promise<void> {
    // Caught up: what failed before is behind.
    this.failures = 0;
    await this.wakeup.wait(this.options.pollIntervalMs ?? 1_000, signal);
  }

  private setLeader(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    const { logger, logFields, role } = this.options;
    logger.info({ ...logFields, leader }, leader ? `${role} is the leader` : `${role} stepped down`);
    this.options.onLeadership?.(leader);
  }
}

function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
