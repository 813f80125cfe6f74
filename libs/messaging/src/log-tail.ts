import type { Pool, PoolClient } from 'pg';
import type { EventEnvelope, StreamCategory } from '@cronicorn/events';
import {
  beginStatement,
  compareCheckpoints,
  EventStore,
  LOG_START,
  LogCheckpoint,
  ReadAllResult,
} from '@cronicorn/event-store';
import { sleep } from './backoff';
import { DeadLetterRecorder, EVENT_LOG_STREAM, PostgresDeadLetters } from './dead-letters';
import { LogLeadership, LogLeadershipOptions } from './log-leadership';
import { errorFields, MessagingLogger } from './logger';

export interface LogTailOptions {
  pool: Pool;
  store: Pick<EventStore, 'readAll'>;
  /** Its row in `consumer_checkpoints`, the name of its leader lock and of its dead letters. */
  name: string;
  /** Only events of these types. */
  types?: readonly string[];
  /** Only events of these stream categories. */
  categories?: readonly StreamCategory[];
  /**
   * Read first in each step's transaction, at the page's snapshot (the step then runs at
   * REPEATABLE READ): only these tenants' events are read (an empty list: none, and the
   * checkpoint moves to the head of the log).
   */
  tenantsOf?(client: PoolClient): Promise<readonly string[]>;
  /** Handles a page of events in the step's transaction, in log order. Do not commit. */
  handle(events: readonly EventEnvelope[], client: PoolClient): Promise<void>;
  /** Told, after the commit, of the events a step handled. */
  onHandled?(events: readonly EventEnvelope[]): void;
  /**
   * Wait for the WAL flush on commit. Turn it off only when what `handle` writes can be redone
   * from the log: a commit lost in a crash loses the checkpoint with it. Default true.
   */
  durableCommit?: boolean;
  /** Plan the step's statements generically: for handlers that look rows up by key (see `beginStatement`). */
  genericPlans?: boolean;
  /** Events per step. Default 500. */
  pageSize?: number;
  /** After catching up, how long to wait for more appends to share the next step. Default 100 ms. */
  lingerMs?: number;
  /** Fallback poll when no NOTIFY arrives. Default 1 s. */
  pollIntervalMs?: number;
  /** Attempts at an event that fails alone before it is dead-lettered and passed. Default 10. */
  maxAttempts?: number;
  deadLetters?: DeadLetterRecorder;
  logger: MessagingLogger;
  /** How its leadership differs from a tail's own (the projector's lock, which a rebuild takes). */
  leadership?: Partial<Omit<LogLeadershipOptions, 'pool' | 'logger' | 'pollIntervalMs'>>;
}

/** What one step read. */
export interface TailStep {
  handled: number;
  /** More is waiting: step again at once. */
  more: boolean;
}

/** Another tail moved the checkpoint while this step ran: its work is rolled back. */
class CheckpointMovedError extends Error {}

/**
 * Follows the event log in commit order (ADR 0001) from a checkpoint, exactly once, for
 * handlers that need neither JetStream's fan-out nor per-stream bookkeeping (ADR 0031).
 *
 * One replica at a time leads (`LogLeadership`); each step reads a page after the
 * checkpoint, handles it and moves the checkpoint in one transaction, so a page is handled
 * once whatever crashes. The page holds only events below the oldest transaction still open
 * when it is read. With `tenantsOf` the step runs at REPEATABLE READ, so that what it reads
 * and the page share one snapshot: every row committed with an earlier event is visible, and
 * a row missing from the snapshot (a subscription still committing) belongs to a transaction
 * after every event of the page. The checkpoint is moved only from where the step found it:
 * a deposed leader still finishing a step rolls back instead of handling a page twice.
 *
 * A page that fails is tried again one event per step; an event that fails `maxAttempts`
 * times alone is recorded in `dead_letters` and passed, so the tail moves on.
 */
export class LogTail {
  private readonly leadership: LogLeadership;
  private readonly deadLetters: DeadLetterRecorder;
  /** After a failed page: one event per step up to the page's end. */
  private singleUntil: LogCheckpoint | null = null;
  /** Failed attempts at `failing`, an event read alone. */
  private failures = 0;
  private failing: string | null = null;

  constructor(private readonly options: LogTailOptions) {
    this.deadLetters = options.deadLetters ?? new PostgresDeadLetters(options.pool);
    this.leadership = new LogLeadership(
      {
        pool: options.pool,
        lockName: `cronicorn.log-tail.${options.name}`,
        role: `${options.name} log tail`,
        logFields: { tail: options.name },
        logger: options.logger,
        pollIntervalMs: options.pollIntervalMs,
        ...options.leadership,
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

  /** Reads one page after the checkpoint, handles it and moves the checkpoint. */
  async step(): Promise<TailStep> {
    const single = this.singleUntil !== null;
    // Where the step found the checkpoint and what it read, once it has.
    const seen: { from?: LogCheckpoint; read?: ReadAllResult } = {};
    let page: ReadAllResult;
    try {
      page = await this.inTransaction(async (client) => {
        const checkpoint = await this.loadCheckpoint(client);
        seen.from = checkpoint;
        const read = await this.read(client, checkpoint, single ? 1 : (this.options.pageSize ?? 500));
        seen.read = read;
        if (read.events.length > 0) await this.options.handle(read.events, client);
        await this.moveCheckpoint(client, checkpoint, read.checkpoint);
        return read;
      });
    } catch (error) {
      if (error instanceof CheckpointMovedError) return { handled: 0, more: false };
      // A row the step writes changed after its snapshot: read again, not the event's fault.
      if (isSerializationFailure(error)) return { handled: 0, more: true };
      // Not read (Postgres unreachable, say): the leadership retries with backoff.
      if (!seen.from || !seen.read) throw error;
      if (!single) {
        // Find the failing event: one per step up to the end of this page.
        this.singleUntil = seen.read.checkpoint;
        return { handled: 0, more: true };
      }
      // Attempts count per event: not an event's failure (the commit's, say) is only retried.
      const [event] = seen.read.events;
      if (!event) throw error;
      this.failures = this.failing === event.id ? this.failures + 1 : 1;
      this.failing = event.id;
      if (this.failures < (this.options.maxAttempts ?? 10)) throw error;
      try {
        page = await this.deadLetter(error, seen.from, event);
      } catch (deadLetterError) {
        if (deadLetterError instanceof CheckpointMovedError) return { handled: 0, more: false };
        throw deadLetterError;
      }
    }
    this.failures = 0;
    this.failing = null;
    if (this.singleUntil && compareCheckpoints(page.checkpoint, this.singleUntil) >= 0)
      this.singleUntil = null;
    if (page.events.length > 0) this.options.onHandled?.(page.events);
    return { handled: page.events.length, more: page.more || this.singleUntil !== null };
  }

  private async read(client: PoolClient, after: LogCheckpoint, limit: number): Promise<ReadAllResult> {
    const tenantIds = this.options.tenantsOf ? await this.options.tenantsOf(client) : undefined;
    return this.options.store.readAll(after, {
      limit,
      types: this.options.types,
      categories: this.options.categories,
      tenantIds,
      client,
    });
  }

  /**
   * Records `event`, which failed alone after `from`, as a dead letter and moves the checkpoint
   * past it, only if the checkpoint is still at `from` and `event` still comes next: another
   * tail may have handled it meanwhile (`CheckpointMovedError`).
   */
  private async deadLetter(
    error: unknown,
    from: LogCheckpoint,
    event: EventEnvelope,
  ): Promise<ReadAllResult> {
    const read = await this.inTransaction(async (client) => {
      const checkpoint = await this.loadCheckpoint(client);
      const read = await this.read(client, checkpoint, 1);
      if (compareCheckpoints(checkpoint, from) !== 0 || read.events[0]?.id !== event.id)
        throw new CheckpointMovedError(`${this.options.name}: the failed event is no longer next`);
      await this.moveCheckpoint(client, checkpoint, read.checkpoint);
      await this.deadLetters.record({
        consumer: this.options.name,
        stream: EVENT_LOG_STREAM,
        seq: event.position,
        subject: `${event.streamId}@${event.streamVersion}`,
        data: JSON.stringify(event),
        error: error instanceof Error ? error.message : String(error),
        deliveryCount: this.failures,
      });
      this.options.logger.error(
        { tail: this.options.name, event: event.id, type: event.type, ...errorFields(error) },
        'event dead-lettered',
      );
      return read;
    });
    return { events: [], checkpoint: read.checkpoint, more: read.more };
  }

  private async lead(signal: AbortSignal, idle: () => Promise<void>): Promise<void> {
    while (!signal.aborted) {
      const { more } = await this.step();
      if (more) continue;
      await idle();
      await sleep(this.options.lingerMs ?? 100, signal);
    }
  }

  private async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.options.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(
        beginStatement({ ...this.options, repeatableRead: Boolean(this.options.tenantsOf) }),
      );
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((err: Error) => (broken = err));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private async loadCheckpoint(client: PoolClient): Promise<LogCheckpoint> {
    const { rows } = await client.query<{ transaction_id: string; position: string }>({
      name: 'log-tail.checkpoint',
      text: `SELECT transaction_id::text AS transaction_id, position::text AS position
               FROM consumer_checkpoints WHERE consumer = $1`,
      values: [this.options.name],
    });
    return rows.length ? { transactionId: rows[0].transaction_id, position: rows[0].position } : LOG_START;
  }

  /** Moves the checkpoint from `from` (where this step found it) to `to`. */
  private async moveCheckpoint(client: PoolClient, from: LogCheckpoint, to: LogCheckpoint): Promise<void> {
    if (to.transactionId === from.transactionId && to.position === from.position) return;
    const { rowCount } = await client.query({
      name: 'log-tail.move-checkpoint',
      text: `INSERT INTO consumer_checkpoints (consumer, transaction_id, position) VALUES ($1, $4, $5)
             ON CONFLICT (consumer) DO UPDATE
               SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()
             WHERE (consumer_checkpoints.transaction_id, consumer_checkpoints.position) = ($2, $3)`,
      values: [this.options.name, from.transactionId, from.position, to.transactionId, to.position],
    });
    if (rowCount === 0)
      throw new CheckpointMovedError(`${this.options.name}: another tail moved the checkpoint`);
  }
}

const isSerializationFailure = (error: unknown) =>
  typeof error === 'object' && error !== null && 'code' in error && error.code === '40001';
