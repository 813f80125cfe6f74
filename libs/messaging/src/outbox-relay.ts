import type { JetStreamClient } from '@nats-io/jetstream';
import type { Pool } from 'pg';
import { EventEnvelope, NatsNames } from '@cronicorn/events';
import { EventStore, LOG_START, LogCheckpoint } from '@cronicorn/event-store';
import { backoffMs, sleep } from './backoff';
import { LogLeadership } from './log-leadership';
import { consoleLogger, errorFields, MessagingLogger } from './logger';

/** One published batch, reported after JetStream acknowledged it and before the checkpoint moves. */
export interface PublishedBatch {
  count: number;
  /** Messages the stream dropped as re-publishes (same `Nats-Msg-Id` within its window). */
  duplicates: number;
  /** Now minus `occurredAt` of the batch's last event. */
  lagMs: number;
  checkpoint: LogCheckpoint;
}

/** Optional metrics hooks of the relay. */
export interface RelayMetrics {
  onPublished?(batch: PublishedBatch): void;
  onLeadership?(leader: boolean): void;
  onError?(error: unknown): void;
}

export interface OutboxRelayOptions {
  pool: Pool;
  store: Pick<EventStore, 'readAll'>;
  js: JetStreamClient;
  names: NatsNames;
  /** Row in `relay_checkpoints` and name of the leader lock. Default `nats`. */
  name?: string;
  /** Events per read and per pipelined publish. Default 500. */
  batchSize?: number;
  /** Fallback poll when no NOTIFY arrives. Default 1 s. */
  pollIntervalMs?: number;
  /** How often a standby relay tries to become the leader. Default 2 s. */
  standbyRetryMs?: number;
  /** How long the leader's proof that its lock session lives may take. Default 10 s. */
  lockCheckTimeoutMs?: number;
  /** Time to wait for each PubAck. Default 10 s. */
  publishTimeoutMs?: number;
  logger?: MessagingLogger;
  metrics?: RelayMetrics;
}

/**
 * Publishes the event log to JetStream: the events table is the outbox.
 *
 * - It tails the store's commit-ordered `readAll` from a checkpoint in `relay_checkpoints`,
 *   publishes each envelope to its subject with `Nats-Msg-Id` = event id (a batch in flight
 *   at once), and moves the checkpoint only after every message of the batch was
 *   acknowledged. A crash after commit and before publish therefore delays an event, never
 *   loses it; a crash after publish and before the checkpoint re-publishes, and the stream's
 *   duplicate window drops the copies (past the window, consumers' idempotency does).
 * - It wakes on `LISTEN cronicorn_events` (every append NOTIFYs on commit), with a poll as
 *   fallback for a lost notification; one relay publishes at a time (`LogLeadership`). The
 *   checkpoint only ever moves forward, so a deposed leader still finishing a batch is harmless.
 */
export class OutboxRelay {
  private readonly name: string;
  private readonly logger: MessagingLogger;
  private readonly leadership: LogLeadership;

  constructor(private readonly options: OutboxRelayOptions) {
    this.name = options.name ?? 'nats';
    this.logger = options.logger ?? consoleLogger;
    this.leadership = new LogLeadership(
      {
        pool: options.pool,
        lockName: `cronicorn.outbox-relay.${this.name}`,
        role: 'relay',
        logFields: { relay: this.name },
        logger: this.logger,
        pollIntervalMs: options.pollIntervalMs,
        standbyRetryMs: options.standbyRetryMs,
        lockCheckTimeoutMs: options.lockCheckTimeoutMs,
        onLeadership: (leader) => options.metrics?.onLeadership?.(leader),
        onError: (error) => options.metrics?.onError?.(error),
      },
      (signal, idle) => this.lead(signal, idle),
    );
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  start(): void {
    this.leadership.start();
  }

  async stop(): Promise<void> {
    await this.leadership.stop();
  }

  private async lead(signal: AbortSignal, idle: () => Promise<void>): Promise<void> {
    const batchSize = this.options.batchSize ?? 500;
    let checkpoint = await this.loadCheckpoint();
    while (!signal.aborted) {
      const {
        events,
        checkpoint: next,
        more,
      } = await this.options.store.readAll(checkpoint, { limit: batchSize });
      if (events.length > 0) await this.publish(events, next, signal);
      if (signal.aborted) return;
      if (next.transactionId !== checkpoint.transactionId || next.position !== checkpoint.position) {
        await this.saveCheckpoint(next);
        checkpoint = next;
      }
      if (!more) await idle();
    }
  }

  /** Publishes all of `events`, retrying the failed ones with backoff until each is acknowledged. */
  private async publish(
    events: EventEnvelope[],
    checkpoint: LogCheckpoint,
    signal: AbortSignal,
  ): Promise<void> {
    const { js, names } = this.options;
    let pending = events;
    let duplicates = 0;
    for (let attempt = 1; ; attempt++) {
      const results = await Promise.allSettled(
        pending.map((envelope) =>
          js.publish(names.subjectOfEnvelope(envelope), JSON.stringify(envelope), {
            msgID: envelope.id,
            timeout: this.options.publishTimeoutMs ?? 10_000,
          }),
        ),
      );
      duplicates += results.filter((r) => r.status === 'fulfilled' && r.value.duplicate).length;
      const failed = pending.filter((_, i) => results[i].status === 'rejected');
      if (failed.length === 0) break;
      const firstError = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
      this.options.metrics?.onError?.(firstError);
      this.logger.warn(
        { relay: this.name, failed: failed.length, of: pending.length, attempt, ...errorFields(firstError) },
        'publish failed; retrying',
      );
      await sleep(backoffMs(attempt, 250, 15_000), signal);
      if (signal.aborted) throw new Error('relay stopped or lost its lock while publishing');
      pending = failed;
    }
    const last = events[events.length - 1];
    this.options.metrics?.onPublished?.({
      count: events.length,
      duplicates,
      lagMs: Date.now() - Date.parse(last.occurredAt),
      checkpoint,
    });
  }

  private async loadCheckpoint(): Promise<LogCheckpoint> {
    const { rows } = await this.options.pool.query<{ transaction_id: string; position: string }>(
      'SELECT transaction_id::text AS transaction_id, position::text AS position FROM relay_checkpoints WHERE name = $1',
      [this.name],
    );
    return rows.length ? { transactionId: rows[0].transaction_id, position: rows[0].position } : LOG_START;
  }

  private async saveCheckpoint(checkpoint: LogCheckpoint): Promise<void> {
    await this.options.pool.query(
      `INSERT INTO relay_checkpoints (name, transaction_id, position) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE
         SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()
       WHERE (relay_checkpoints.transaction_id, relay_checkpoints.position)
           < (EXCLUDED.transaction_id, EXCLUDED.position)`,
      [this.name, checkpoint.transactionId, checkpoint.position],
    );
  }
}
