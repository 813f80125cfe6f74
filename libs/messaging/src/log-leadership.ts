import type { Pool, PoolClient } from 'pg';
import { EVENTS_NOTIFY_CHANNEL } from '@cronicorn/event-store';
import { backoffMs, sleep, Wakeup, withTimeout } from './backoff';
import { errorFields, MessagingLogger } from './logger';

/**
 * Leads while it holds the lock. `idle` waits for the next append (a NOTIFY) or the poll
 * interval, then proves the lock's session is still alive; `signal` aborts when the
 * process stops or the lock is lost. Returning or throwing ends the term (a throw is logged
 * and retried with backoff).
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
  /** Fallback poll when no NOTIFY arrives. Default 1 s. */
  pollIntervalMs?: number;
  /** How often a standby tries to become the leader. Default 2 s. */
  standbyRetryMs?: number;
  /** How long the leader's proof that its lock session lives may take. Default 10 s. */
  lockCheckTimeoutMs?: number;
  onLeadership?(leader: boolean): void;
  onError?(error: unknown): void;
}

/**
 * One leader at a time for a reader that tails the event log, in any number of replicas.
 *
 * The leader holds `pg_try_advisory_lock` on a dedicated connection, on which it also LISTENs
 * to `cronicorn_events` (every append NOTIFYs on commit); the others stand by and retry the
 * lock. When the leader's connection dies, Postgres releases the lock and one of them takes
 * over. A leader whose lock session goes silent gives it up after `lockCheckTimeoutMs`; the
 * server drops the session of a vanished host within seconds by the pool's TCP keepalives.
 * Readers keep their checkpoints moving forward only, so a deposed leader still finishing a
 * step is harmless.
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
    while (!this.stopping) {
      const term = new AbortController();
      const endTerm = () => term.abort();
      this.stopController.signal.addEventListener('abort', endTerm, { once: true });
      let client: PoolClient | null = null;
      let broken: Error | undefined;
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
          client.off('error', onError);
          client.release();
          client = null;
          this.failures = 0;
          await sleep(this.options.standbyRetryMs ?? 2_000, this.stopController.signal);
          continue;
        }
        client.on('notification', () => this.wakeup.wake());
        await client.query(`LISTEN ${EVENTS_NOTIFY_CHANNEL}`);
        this.setLeader(true);
        const lockClient = client;
        await this.lead(term.signal, () => this.idle(lockClient, term.signal));
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
        // Destroying the session drops the advisory lock and the LISTEN with it.
        if (client) client.release(broken ?? true);
      }
      if (this.failures > 0 && !this.stopping) {
        await sleep(backoffMs(this.failures, 250, 15_000), this.stopController.signal);
      }
    }
  }

  private async idle(lockClient: PoolClient, signal: AbortSignal): Promise<void> {
    // Caught up: what failed before is behind.
    this.failures = 0;
    await this.wakeup.wait(this.options.pollIntervalMs ?? 1_000, signal);
    // Proves the lock's session is alive; a dead or silent one would make this a false leader.
    if (signal.aborted) return;
    const timeoutMs = this.options.lockCheckTimeoutMs ?? 10_000;
    await withTimeout(lockClient.query('SELECT 1'), timeoutMs, `${this.options.role} lock check`);
  }

  private setLeader(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    const { logger, logFields, role } = this.options;
    logger.info({ ...logFields, leader }, leader ? `${role} is the leader` : `${role} stepped down`);
    this.options.onLeadership?.(leader);
  }
}
