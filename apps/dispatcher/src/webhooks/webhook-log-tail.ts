import type { Pool, PoolClient } from 'pg';
import type { EventStore, LogCheckpoint } from '@cronicorn/event-store';
import { LOG_START } from '@cronicorn/event-store';
import { LogLeadership, MessagingLogger, sleep } from '@cronicorn/messaging';
import { queueDeliveries } from './webhook-matcher';

export interface WebhookLogTailOptions {
  pool: Pool;
  store: Pick<EventStore, 'readAll'>;
  /** Its row in `consumer_checkpoints` and the name of its leader lock. */
  name: string;
  /** Events per read. Default 500. */
  pageSize?: number;
  /** After catching up, how long to wait for more appends to share the next read. Default 100 ms. */
  lingerMs?: number;
  /** Fallback poll when no NOTIFY arrives. Default 1 s. */
  pollIntervalMs?: number;
  logger: MessagingLogger;
  /** Told, after the commit, of the events that queued deliveries. */
  onQueued?(eventIds: ReadonlySet<string>): void;
}

/** What one step read and queued. */
export interface TailStep {
  events: number;
  queued: number;
  /** More is waiting: read again at once. */
  more: boolean;
}

/**
 * Queues webhook deliveries by tailing the event log (ADR 0031), not through a JetStream
 * consumer: one replica at a time reads the commit-ordered log from its checkpoint, only the
 * events of tenants that have a subscription, and queues their deliveries and moves the
 * checkpoint in one transaction. Queuing is idempotent ((subscription, event) is unique), so a
 * step redone after a crash or by a deposed leader sends nothing twice.
 *
 * Each step runs at REPEATABLE READ: the subscriptions it matches against and the page of the
 * log are read at one snapshot, and the log is read only below its oldest open transaction.
 * A subscription missing from that snapshot commits in a transaction at or above that
 * horizon, so every event the page holds precedes it in the log and is not for it.
 */
export class WebhookLogTail {
  private readonly leadership: LogLeadership;

  constructor(private readonly options: WebhookLogTailOptions) {
    this.leadership = new LogLeadership(
      {
        pool: options.pool,
        lockName: `cronicorn.webhooks-tail.${options.name}`,
        role: 'webhooks tail',
        logFields: { tail: options.name },
        logger: options.logger,
        pollIntervalMs: options.pollIntervalMs,
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

  /** Reads one page after the checkpoint and queues its deliveries. */
  async step(): Promise<TailStep> {
    const client = await this.options.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      // Redone from the log when a crash loses the commit: the checkpoint is lost with it.
      await client.query('SET LOCAL synchronous_commit TO OFF');
      const checkpoint = await this.loadCheckpoint(client);
      const { rows } = await client.query<{ tenant_id: string }>({
        name: 'webhooks.tail-tenants',
        text: 'SELECT DISTINCT tenant_id FROM webhook_subscriptions WHERE deleted_at IS NULL',
      });
      const page = await this.options.store.readAll(checkpoint, {
        limit: this.options.pageSize ?? 500,
        tenantIds: rows.map((row) => row.tenant_id),
        client,
      });
      const queued = page.events.length > 0 ? await queueDeliveries(page.events, client) : new Set<string>();
      if (
        page.checkpoint.transactionId !== checkpoint.transactionId ||
        page.checkpoint.position !== checkpoint.position
      ) {
        await this.saveCheckpoint(client, page.checkpoint);
      }
      await client.query('COMMIT');
      if (queued.size > 0) this.options.onQueued?.(queued);
      return { events: page.events.length, queued: queued.size, more: page.more };
    } catch (error) {
      await client.query('ROLLBACK').catch((err: Error) => (broken = err));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private async lead(signal: AbortSignal, idle: () => Promise<void>): Promise<void> {
    while (!signal.aborted) {
      const { more } = await this.step();
      if (more) continue;
      await idle();
      await sleep(this.options.lingerMs ?? 100, signal);
    }
  }

  private async loadCheckpoint(client: PoolClient): Promise<LogCheckpoint> {
    const { rows } = await client.query<{ transaction_id: string; position: string }>({
      name: 'webhooks.tail-checkpoint',
      text: `SELECT transaction_id::text AS transaction_id, position::text AS position
               FROM consumer_checkpoints WHERE consumer = $1`,
      values: [this.options.name],
    });
    return rows.length ? { transactionId: rows[0].transaction_id, position: rows[0].position } : LOG_START;
  }

  private async saveCheckpoint(client: PoolClient, checkpoint: LogCheckpoint): Promise<void> {
    await client.query({
      name: 'webhooks.tail-save-checkpoint',
      text: `INSERT INTO consumer_checkpoints (consumer, transaction_id, position) VALUES ($1, $2, $3)
             ON CONFLICT (consumer) DO UPDATE
               SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()
             WHERE (consumer_checkpoints.transaction_id, consumer_checkpoints.position)
                 < (EXCLUDED.transaction_id, EXCLUDED.position)`,
      values: [this.options.name, checkpoint.transactionId, checkpoint.position],
    });
  }
}
