import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Pool, PoolClient } from 'pg';
import {
  EventEnvelope,
  NatsNames,
  parseStreamId,
  StreamCategory,
  UpcasterRegistry,
  upcasters as defaultUpcasters,
} from '@cronicorn/events';
import { EventStore, LOG_START, LogCheckpoint } from '@cronicorn/event-store';
import { sleep } from './backoff';
import { DeadLetterRecorder, EVENT_LOG_STREAM, PostgresDeadLetters } from './dead-letters';
import { PoisonMessageError } from './errors';
import { JetStreamWorker, WorkerMetrics } from './jetstream-worker';
import { consoleLogger, errorFields, MessagingLogger } from './logger';
import { ConsumerSpec, DEFAULT_MAX_DELIVER, eventsFilterSubject } from './provisioning';

/*
 * How an event consumer gets every event exactly once in effect (DESIGN §3: Postgres is the
 * truth, NATS the delivery).
 *
 * 1. Idempotent, per stream. `consumer_stream_versions` holds the last version of each stream
 *    this consumer handled. Each event is handled in ONE transaction: take an advisory lock on
 *    (consumer, stream), read the version, handle the event only if it is the next one, move
 *    the version, commit; only then is the NATS message acked. A redelivery or a copy is a
 *    no-op. The lock (not a row lock) keeps a transaction id from being assigned before the
 *    handler writes, so a slow handler holds back the store's `pg_snapshot_xmin` as little as
 *    possible; handlers should still keep slow I/O out of the transaction.
 * 2. Gap-aware. An event ahead of the next expected version means NATS lost or has not yet
 *    delivered the ones before it: they are read from the store and handled first, in order,
 *    each in its own transaction.
 * 3. Swept. A lost message that was the last of its stream reveals no gap. A periodic sweep
 *    walks the store's commit-ordered log from `consumer_checkpoints`, skips what the version
 *    table says is done (one query per page) and runs the rest through the same path. One
 *    replica sweeps at a time (session advisory lock); the checkpoint only moves forward.
 * 4. Poison. After the last attempt (or a PoisonMessageError) the event is recorded in
 *    `dead_letters` and its version is marked done, so its stream and the sweep move on; an
 *    operator replays it from there.
 */

/** Handles one event inside the consumer's transaction. Do not commit or release `client`. */
export type EventHandler = (envelope: EventEnvelope, client: PoolClient) => Promise<void>;

export interface EventConsumerMetrics extends WorkerMetrics {
  /** An event was handled and committed; `via` tells which path found it. */
  onHandled?(envelope: EventEnvelope, via: 'nats' | 'gap' | 'sweep'): void;
}

export interface EventConsumerOptions {
  /** Durable consumer name on the events stream and key of this consumer's bookkeeping. */
  name: string;
  names: NatsNames;
  /** Categories handled; events of others are acked without database work. */
  categories: readonly StreamCategory[];
  handle: EventHandler;
  js: JetStreamClient;
  pool: Pool;
  store: Pick<EventStore, 'readStream' | 'readAll'>;
  deadLetters?: DeadLetterRecorder;
  /** Default 5 s. */
  sweepIntervalMs?: number;
  /** Events per sweep page. Default 500. */
  sweepBatchSize?: number;
  concurrency?: number;
  /** Attempts per event before it is dead-lettered. Default: the consumer's provisioning. */
  maxDeliver?: number;
  retryDelayMs?: (deliveryCount: number) => number;
  heartbeatMs?: number;
  upcasters?: UpcasterRegistry;
  logger?: MessagingLogger;
  metrics?: EventConsumerMetrics;
}

/** Provisioning of an event consumer's durable (pass it to `provisionConsumer`). */
export function eventConsumerSpec(
  name: string,
  names: NatsNames,
  categories: readonly StreamCategory[],
  overrides: Omit<Partial<ConsumerSpec>, 'durable' | 'filterSubject'> = {},
): ConsumerSpec {
  return { durable: name, filterSubject: eventsFilterSubject(names, categories), ...overrides };
}

/** The handler failed on `envelope` (possibly an earlier event of the stream read to fill a gap). */
export class EventHandlingError extends Error {
  readonly code = 'MESSAGING.EVENT_HANDLING_FAILED';

  constructor(
    readonly envelope: EventEnvelope,
    cause: unknown,
  ) {
    super(
      `${envelope.type} ${envelope.streamId}@${envelope.streamVersion}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'EventHandlingError';
  }
}

type StepResult = { kind: 'done' } | { kind: 'handled' } | { kind: 'gap'; last: number };

export class EventConsumer {
  private readonly worker: JetStreamWorker;
  private readonly categories: ReadonlySet<StreamCategory>;
  private readonly logger: MessagingLogger;
  private readonly deadLetters: DeadLetterRecorder;
  private readonly stopController = new AbortController();
  private readonly sweepFailures = new Map<string, number>();
  private sweeping: Promise<void> | null = null;

  constructor(private readonly options: EventConsumerOptions) {
    if (options.categories.length === 0) throw new Error(`Event consumer ${options.name} wants no category`);
    this.categories = new Set(options.categories);
    this.logger = options.logger ?? consoleLogger;
    this.deadLetters = options.deadLetters ?? new PostgresDeadLetters(options.pool);
    this.worker = new JetStreamWorker({
      js: options.js,
      stream: options.names.eventsStream,
      durable: options.name,
      handler: (m) => this.onMessage(m),
      deadLetters: this.deadLetters,
      onGiveUp: (_m, error) => this.onGiveUp(error),
      concurrency: options.concurrency,
      maxDeliver: options.maxDeliver,
      retryDelayMs: options.retryDelayMs,
      heartbeatMs: options.heartbeatMs,
      logger: this.logger,
      metrics: options.metrics,
    });
  }

  start(): void {
    this.worker.start();
    this.sweeping ??= this.sweepLoop();
  }

  /** Stops pulling, lets the running handler and sweep step finish, then returns. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await Promise.all([this.worker.stop(), this.sweeping]);
  }

  /**
   * One pass over the log from this consumer's sweep checkpoint; returns the events it
   * handled. Does nothing when another replica is sweeping.
   */
  async sweep(): Promise<number> {
    const lockClient = await this.options.pool.connect();
    let broken: Error | undefined;
    const onError = (err: Error) => (broken = err);
    lockClient.on('error', onError);
    try {
      const { rows } = await lockClient.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [`cronicorn.event-consumer-sweep.${this.options.name}`],
      );
      if (!rows[0].locked) return 0;
      try {
        return await this.sweepPages();
      } finally {
        await lockClient
          .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [
            `cronicorn.event-consumer-sweep.${this.options.name}`,
          ])
          .catch((err: Error) => (broken = err));
      }
    } finally {
      lockClient.off('error', onError);
      lockClient.release(broken);
    }
  }

  private async sweepPages(): Promise<number> {
    const limit = this.options.sweepBatchSize ?? 500;
    let checkpoint = await this.loadCheckpoint();
    let handled = 0;
    while (!this.stopController.signal.aborted) {
      const { events, checkpoint: next } = await this.options.store.readAll(checkpoint, {
        limit,
        categories: [...this.categories],
      });
      const done = await this.handledVersions(events.map((e) => e.streamId));
      for (const envelope of events) {
        if (this.stopController.signal.aborted) return handled;
        if (envelope.streamVersion <= (done.get(envelope.streamId) ?? 0)) continue;
        handled += await this.sweepOne(envelope);
      }
      if (next.transactionId !== checkpoint.transactionId || next.position !== checkpoint.position) {
        await this.saveCheckpoint(next);
        checkpoint = next;
      }
      if (events.length < limit) break;
    }
    return handled;
  }

  /** Like a delivery: retried on later passes, dead-lettered after the last attempt. */
  private async sweepOne(envelope: EventEnvelope): Promise<number> {
    try {
      const handled = await this.process(envelope, 'sweep');
      this.sweepFailures.delete(envelope.id);
      return handled;
    } catch (err) {
      if (!(err instanceof EventHandlingError)) throw err;
      const attempts = (this.sweepFailures.get(err.envelope.id) ?? 0) + 1;
      this.sweepFailures.set(err.envelope.id, attempts);
      const poison = err.cause instanceof PoisonMessageError;
      if (!poison && attempts < this.maxAttempts) throw err;
      await this.deadLetters.record({
        consumer: this.options.name,
        stream: EVENT_LOG_STREAM,
        seq: err.envelope.position,
        subject: this.options.names.subjectOfEnvelope(err.envelope),
        data: JSON.stringify(err.envelope),
        error: err.message,
        deliveryCount: attempts,
      });
      await this.skip(err.envelope);
      this.sweepFailures.delete(err.envelope.id);
      this.logger.error(
        { consumer: this.options.name, event: err.envelope.id, error: err.message },
        'event dead-lettered',
      );
      return 0;
    }
  }

  private get maxAttempts(): number {
    if (this.options.maxDeliver !== undefined) return this.options.maxDeliver;
    const fromServer = this.worker.maxAttempts;
    return Number.isFinite(fromServer) ? fromServer : DEFAULT_MAX_DELIVER;
  }

  private async sweepLoop(): Promise<void> {
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      await sleep(this.options.sweepIntervalMs ?? 5_000, signal);
      if (signal.aborted) return;
      try {
        const handled = await this.sweep();
        if (handled > 0)
          this.logger.info({ consumer: this.options.name, handled }, 'sweep handled missed events');
      } catch (err) {
        this.logger.warn(
          { consumer: this.options.name, ...errorFields(err) },
          'sweep failed; retrying next interval',
        );
      }
    }
  }

  private async onMessage(m: JsMsg): Promise<void> {
    const envelope = this.decode(m);
    if (!this.categories.has(parseStreamId(envelope.streamId).category)) return;
    await this.process(envelope, 'nats');
  }

  private decode(m: JsMsg): EventEnvelope {
    let envelope: EventEnvelope;
    try {
      envelope = m.json<EventEnvelope>();
      parseStreamId(envelope.streamId);
    } catch (err) {
      throw new PoisonMessageError(`not an event envelope: ${(err as Error).message}`, { cause: err });
    }
    if (
      typeof envelope.id !== 'string' ||
      !Number.isInteger(envelope.streamVersion) ||
      envelope.streamVersion < 1
    ) {
      throw new PoisonMessageError('not an event envelope: id or streamVersion missing');
    }
    try {
      return (this.options.upcasters ?? defaultUpcasters).upcast(envelope);
    } catch (err) {
      throw new PoisonMessageError(`cannot upcast ${envelope.type}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Handles `envelope` unless done already, after any earlier events of its stream that were missed. */
  private async process(envelope: EventEnvelope, via: 'nats' | 'sweep'): Promise<number> {
    const first = await this.step(envelope, via);
    if (first.kind !== 'gap') return first.kind === 'handled' ? 1 : 0;
    const missing = await this.options.store.readStream(envelope.streamId, { fromVersion: first.last + 1 });
    let handled = 0;
    for (const earlier of missing) {
      if (earlier.streamVersion > envelope.streamVersion) break;
      const result = await this.step(earlier, earlier.streamVersion === envelope.streamVersion ? via : 'gap');
      if (result.kind === 'gap') {
        throw new Error(`${envelope.streamId} has no version ${result.last + 1} in the store`);
      }
      if (result.kind === 'handled') handled += 1;
    }
    if (handled > 0) {
      this.logger.info(
        {
          consumer: this.options.name,
          streamId: envelope.streamId,
          from: first.last + 1,
          to: envelope.streamVersion,
        },
        'filled a gap from the store',
      );
    }
    return handled;
  }

  /** One event, one transaction: handled only when it is the stream's next version. */
  private async step(envelope: EventEnvelope, via: 'nats' | 'gap' | 'sweep'): Promise<StepResult> {
    const client = await this.options.pool.connect();
    let result: StepResult;
    try {
      await client.query('BEGIN');
      const last = await this.lockStream(client, envelope.streamId);
      if (envelope.streamVersion <= last) {
        result = { kind: 'done' };
      } else if (envelope.streamVersion > last + 1) {
        result = { kind: 'gap', last };
      } else {
        try {
          await this.options.handle(envelope, client);
        } catch (err) {
          throw new EventHandlingError(envelope, err);
        }
        await this.saveVersion(client, envelope.streamId, envelope.streamVersion);
        result = { kind: 'handled' };
      }
      await client.query(result.kind === 'handled' ? 'COMMIT' : 'ROLLBACK');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    if (result.kind === 'handled') this.options.metrics?.onHandled?.(envelope, via);
    return result;
  }

  /** Marks a dead-lettered event done, if it is the stream's next version, so the stream moves on. */
  private async onGiveUp(error: unknown): Promise<void> {
    if (error instanceof EventHandlingError) await this.skip(error.envelope);
  }

  private async skip(envelope: EventEnvelope): Promise<void> {
    const client = await this.options.pool.connect();
    try {
      await client.query('BEGIN');
      const last = await this.lockStream(client, envelope.streamId);
      if (last === envelope.streamVersion - 1) {
        await this.saveVersion(client, envelope.streamId, envelope.streamVersion);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  private async lockStream(client: PoolClient, streamId: string): Promise<number> {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `cronicorn.event-consumer.${this.options.name}.${streamId}`,
    ]);
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM consumer_stream_versions WHERE consumer = $1 AND stream_id = $2',
      [this.options.name, streamId],
    );
    return rows.length ? rows[0].version : 0;
  }

  private async saveVersion(client: PoolClient, streamId: string, version: number): Promise<void> {
    await client.query(
      `INSERT INTO consumer_stream_versions (consumer, stream_id, version) VALUES ($1, $2, $3)
       ON CONFLICT (consumer, stream_id) DO UPDATE SET version = EXCLUDED.version, updated_at = now()`,
      [this.options.name, streamId, version],
    );
  }

  private async handledVersions(streamIds: string[]): Promise<Map<string, number>> {
    if (streamIds.length === 0) return new Map();
    const { rows } = await this.options.pool.query<{ stream_id: string; version: number }>(
      'SELECT stream_id, version FROM consumer_stream_versions WHERE consumer = $1 AND stream_id = ANY($2)',
      [this.options.name, [...new Set(streamIds)]],
    );
    return new Map(rows.map((row) => [row.stream_id, row.version]));
  }

  private async loadCheckpoint(): Promise<LogCheckpoint> {
    const { rows } = await this.options.pool.query<{ transaction_id: string; position: string }>(
      'SELECT transaction_id::text AS transaction_id, position::text AS position FROM consumer_checkpoints WHERE consumer = $1',
      [this.options.name],
    );
    return rows.length ? { transactionId: rows[0].transaction_id, position: rows[0].position } : LOG_START;
  }

  private async saveCheckpoint(checkpoint: LogCheckpoint): Promise<void> {
    await this.options.pool.query(
      `INSERT INTO consumer_checkpoints (consumer, transaction_id, position) VALUES ($1, $2, $3)
       ON CONFLICT (consumer) DO UPDATE
         SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()
       WHERE (consumer_checkpoints.transaction_id, consumer_checkpoints.position)
           < (EXCLUDED.transaction_id, EXCLUDED.position)`,
      [this.options.name, checkpoint.transactionId, checkpoint.position],
    );
  }
}
