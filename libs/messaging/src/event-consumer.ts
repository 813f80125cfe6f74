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
import { beginStatement, EventStore, LOG_START, LogCheckpoint } from '@cronicorn/event-store';
import { sleep } from './backoff';
import { DeadLetterRecorder, EVENT_LOG_STREAM, PostgresDeadLetters } from './dead-letters';
import { DeferredMessageError, PoisonMessageError } from './errors';
import { JetStreamWorker, WorkerMetrics } from './jetstream-worker';
import { consoleLogger, errorFields, MessagingLogger } from './logger';
import { ConsumerSpec, DEFAULT_MAX_DELIVER, eventsFilterSubject } from './provisioning';

/*
 * How an event consumer gets every event exactly once in effect (DESIGN §3: Postgres is the
 * truth, NATS the delivery).
 *
 * 1. Idempotent, per stream. `consumer_stream_versions` holds the last version of each stream
 *    this consumer handled. Events are handled in transactions: take an advisory lock on each
 *    (consumer, stream), read the versions, handle each event only if it is its stream's next
 *    one, move the versions, commit; only then are the NATS messages acked. A redelivery or a
 *    copy is a no-op. The locks (not row locks) keep a transaction id from being assigned
 *    before the handler writes, so a slow handler holds back the store's `pg_snapshot_xmin` as
 *    little as possible; handlers should still keep slow I/O out of the transaction.
 * 2. Batched (group commit). Deliveries that arrive while a transaction runs wait and go into
 *    the next one, up to `batchSize`: under load one commit and one version upsert serve many
 *    events, when idle an event is handled alone at once. Events are spread over
 *    `concurrency` lanes by `partitionKey` (default: the stream), each lane one transaction
 *    at a time, so events of one key are handled in order; a batch is handled in key order
 *    (stable), so handlers that lock a row per key lock in one order. When a batch fails, its
 *    events are handled again one per transaction, so only the failing event is retried or
 *    dead-lettered. A handler may take a transaction's events at once (`handleBatch`: a few
 *    set-based statements instead of some per event), and a lane may wait up to `lingerMs`
 *    for a fuller batch (ADR 0021). A delivery waiting in its lane is held unacked for as
 *    long as the lane is busy, beyond the durable's `ack_wait` when a transaction is slow or
 *    the backlog long: the worker keeps the ack timer of every message it holds running with
 *    `working()` (every third of `ack_wait`), so that JetStream neither sends copies of it nor
 *    has it dead-lettered for running out of deliveries while it waits.
 * 3. Gap-aware. An event ahead of the next expected version means NATS lost or has not yet
 *    delivered the ones before it: they are read from the store and handled first, in order,
 *    in the same transaction.
 * 4. Swept. A lost message that was the last of its stream reveals no gap. A periodic sweep
 *    walks the store's commit-ordered log from `consumer_checkpoints`, up to events younger
 *    than a grace period (those NATS is still delivering), skipping in the query what the
 *    version table says is done, and handles the rest in batches like deliveries. One
 *    replica sweeps at a time (session advisory lock); the checkpoint only moves forward. An
 *    event dated further ahead than the grace period (its appender's clock runs ahead) is
 *    swept when met, with a warning, instead of holding the sweep back until its date.
 * 5. Poison. After the last attempt (or a PoisonMessageError) the event is recorded in
 *    `dead_letters` and its version is marked done, so its stream and the sweep move on; an
 *    operator replays it from there. Later events of its stream waiting behind it are
 *    retried, never dead-lettered for it; the sweep handles any that ran out of attempts.
 * 6. Pruned. A closed stream's version row (a run's: its last event is `RunFinished`) is
 *    deleted a day after its last update, once the sweep checkpoint is past that event. The
 *    sweep never reads those events again and no later event of the stream makes a gap check
 *    read them; should NATS bring one back (a relay backlog published late, a re-created
 *    durable), an event without a row that is older than half the retention is checked
 *    against the sweep checkpoint and skipped when it is behind it: every event behind the
 *    checkpoint was handled or dead-lettered.
 */

/** Handles one event inside the consumer's transaction. Do not commit or release `client`. */
export type EventHandler = (envelope: EventEnvelope, client: PoolClient) => Promise<void>;

/**
 * Handles the events of one transaction at once, in the order they would be handled one by
 * one (partition key order, each stream's events in version order), so that a set-based
 * handler can write them in a statement or two instead of one round trip each. When it throws
 * for several events, the transaction is redone calling it with one event at a time, so that
 * the failure is pinned on one event. Do not commit or release `client`.
 */
export type EventBatchHandler = (envelopes: readonly EventEnvelope[], client: PoolClient) => Promise<void>;

export interface EventConsumerMetrics extends WorkerMetrics {
  /** An event was handled and committed; `via` tells which path found it. */
  onHandled?(envelope: EventEnvelope, via: 'nats' | 'gap' | 'sweep'): void;
}

/** One of `handle` and `handleBatch`. */
export type EventConsumerOptions = EventConsumerSettings &
  ({ handle: EventHandler; handleBatch?: never } | { handleBatch: EventBatchHandler; handle?: never });

export interface EventConsumerSettings {
  /** Durable consumer name on the events stream and key of this consumer's bookkeeping. */
  name: string;
  names: NatsNames;
  /** Categories handled; events of others are acked without database work. */
  categories: readonly StreamCategory[];
  js: JetStreamClient;
  pool: Pool;
  store: Pick<EventStore, 'readStream' | 'readAll'>;
  deadLetters?: DeadLetterRecorder;
  /** Transactions at once (lanes). Default 1. */
  concurrency?: number;
  /** Most events in one transaction. Default 100; 1 handles each event alone. */
  batchSize?: number;
  /**
   * How long an event may wait in its lane for more to share its transaction while fewer than
   * `batchSize` are queued (default 0: none). Adds up to this much lag; spares CPU under load.
   */
  lingerMs?: number;
  /** Events with the same key share a lane, so they are handled in delivery order. Default: the stream. */
  partitionKey?: (envelope: EventEnvelope) => string;
  /**
   * Wait for the WAL flush on commit. Turn it off only for consumers whose writes can be
   * redone from the log (read models, queues) and that append no events: a lost commit
   * after a Postgres crash loses its version rows with it, so the gap check and the sweep
   * handle those events again. Default true.
   */
  durableCommit?: boolean;
  /** Plan the transaction's statements generically (see `beginStatement`). Default false. */
  genericPlans?: boolean;
  /**
   * Streams of these categories close with an event of one of `closingTypes` (a run's with
   * its `RunFinished`). The version row of a closed stream is deleted `retentionMs` after its
   * last update once the sweep is past it. Default: `run` streams, `RunFinished`, 24 h.
   */
  closedStreams?: ClosedStreams;
  /** Default 5 s. */
  sweepIntervalMs?: number;
  /** Events per sweep page. Default 500. */
  sweepBatchSize?: number;
  /**
   * The sweep leaves events younger than this (by `occurredAt`) to NATS, so that it does not
   * race deliveries that are merely queued; while NATS has a backlog for this consumer, also
   * events younger than this before the newest one delivered. Default twice the sweep interval.
   */
  sweepGraceMs?: number;
  /** Attempts per event before it is dead-lettered. Default: the consumer's provisioning. */
  maxDeliver?: number;
  retryDelayMs?: (deliveryCount: number) => number;
  /** `working()` interval for held deliveries. Default a third of the durable's `ack_wait`. */
  heartbeatMs?: number;
  upcasters?: UpcasterRegistry;
  logger?: MessagingLogger;
  metrics?: EventConsumerMetrics;
}

export interface ClosedStreams {
  categories: readonly StreamCategory[];
  closingTypes: readonly string[];
  retentionMs: number;
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

type Via = 'nats' | 'gap' | 'sweep';

/** A batch handler failed on several events at once: redo them one at a time to find the culprit. */
class BatchHandlerFailed extends Error {}

const PRUNE_EVERY_MS = 3_600_000;
const PRUNE_SLICE = 5_000;

interface Delivery {
  envelope: EventEnvelope;
  /** When it was queued for its lane (ms). */
  queuedAt: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Lane {
  queue: Delivery[];
  draining: boolean;
}

export class EventConsumer {
  private readonly worker: JetStreamWorker;
  private readonly categories: ReadonlySet<StreamCategory>;
  private readonly logger: MessagingLogger;
  private readonly deadLetters: DeadLetterRecorder;
  private readonly stopController = new AbortController();
  private readonly sweepFailures = new Map<string, number>();
  private sweeping: Promise<void> | null = null;
  private readonly lanes: Lane[];
  /** The newest `occurredAt` among the events NATS delivered (ms, never ahead of this clock) and when. */
  private delivered = { upTo: 0, at: 0 };
  private readonly closedStreams: ClosedStreams;
  private prunedAt = Date.now();
  private readonly batchSize: number;
  private readonly lingerMs: number;

  constructor(private readonly options: EventConsumerOptions) {
    if (options.categories.length === 0) throw new Error(`Event consumer ${options.name} wants no category`);
    this.categories = new Set(options.categories);
    this.batchSize = Math.max(1, options.batchSize ?? 100);
    this.lingerMs = Math.max(0, options.lingerMs ?? 0);
    const laneCount = Math.max(1, options.concurrency ?? 1);
    this.lanes = Array.from({ length: laneCount }, () => ({ queue: [], draining: false }));
    this.closedStreams = options.closedStreams ?? {
      categories: ['run'],
      closingTypes: ['RunFinished'],
      retentionMs: 24 * 3_600_000,
    };
    this.logger = options.logger ?? consoleLogger;
    this.deadLetters = options.deadLetters ?? new PostgresDeadLetters(options.pool);
    this.worker = new JetStreamWorker({
      js: options.js,
      stream: options.names.eventsStream,
      durable: options.name,
      handler: (m) => this.onMessage(m),
      deadLetters: this.deadLetters,
      onGiveUp: (_m, error) => this.onGiveUp(error),
      // Deliveries held while the lanes' transactions run: the next batches.
      concurrency: laneCount * this.batchSize,
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
        const handled = await this.sweepPages();
        if (Date.now() - this.prunedAt >= PRUNE_EVERY_MS) await this.pruneClosedStreams();
        return handled;
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

  /**
   * Deletes the version rows of closed streams past their retention whose last event is
   * behind the sweep checkpoint, a slice at a time; returns how many. The sweep calls it every hour.
   */
  async pruneClosedStreams(): Promise<number> {
    const categories = [...this.closedStreams.categories];
    let pruned = 0;
    while (categories.length > 0 && !this.stopController.signal.aborted) {
      const { rowCount } = await this.options.pool.query(
        `DELETE FROM consumer_stream_versions WHERE ctid = ANY(ARRAY(
           SELECT v.ctid FROM consumer_stream_versions v
             JOIN consumer_checkpoints c ON c.consumer = v.consumer
             JOIN events e ON e.stream_id = v.stream_id AND e.stream_version = v.version
            WHERE v.consumer = $1 AND split_part(v.stream_id, '-', 1) = ANY($2)
              AND v.updated_at < now() - $3 * interval '1 millisecond'
              AND e.type = ANY($5)
              AND (e.transaction_id, e.position) <= (c.transaction_id::text::xid8, c.position)
            LIMIT $4))`,
        [
          this.options.name,
          categories,
          this.closedStreams.retentionMs,
          PRUNE_SLICE,
          this.closedStreams.closingTypes,
        ],
      );
      pruned += rowCount ?? 0;
      if ((rowCount ?? 0) < PRUNE_SLICE) break;
    }
    this.prunedAt = Date.now();
    if (pruned > 0)
      this.logger.info({ consumer: this.options.name, pruned }, 'pruned versions of closed streams');
    return pruned;
  }

  private async sweepPages(): Promise<number> {
    const limit = this.options.sweepBatchSize ?? 500;
    const occurredUpTo = await this.sweepHorizon();
    // Dated further ahead than the grace: from a clock that runs ahead, not a recent event.
    const datedAheadAfter = new Date(Date.now() + this.sweepGraceMs);
    let checkpoint = await this.loadCheckpoint();
    let handled = 0;
    while (!this.stopController.signal.aborted) {
      const {
        events: missed,
        checkpoint: next,
        more,
      } = await this.options.store.readAll(checkpoint, {
        limit,
        categories: [...this.categories],
        occurredUpTo,
        datedAheadAfter,
        unhandledBy: this.options.name,
      });
      this.warnOfDatesAhead(missed, datedAheadAfter);
      for (let i = 0; i < missed.length; i += this.batchSize) {
        if (this.stopController.signal.aborted) return handled;
        handled += await this.sweepBatch(missed.slice(i, i + this.batchSize));
      }
      // A batch cut short by stop leaves events unhandled: the checkpoint stays.
      if (this.stopController.signal.aborted) return handled;
      if (next.transactionId !== checkpoint.transactionId || next.position !== checkpoint.position) {
        await this.saveCheckpoint(next);
        checkpoint = next;
      }
      if (!more) break;
    }
    return handled;
  }

  private async sweepBatch(envelopes: EventEnvelope[]): Promise<number> {
    if (envelopes.length > 1) {
      try {
        return await this.handleInOneTransaction(this.inKeyOrder(envelopes), 'sweep');
      } catch {
        // One of them fails: find it, handling them one by one.
      }
    }
    let handled = 0;
    for (const envelope of envelopes) {
      if (this.stopController.signal.aborted) break;
      handled += await this.sweepOne(envelope);
    }
    return handled;
  }

  /**
   * How far the sweep reads: events older than the grace period. While JetStream still holds
   * messages for this consumer (undelivered or unacknowledged), only as far as what it has
   * delivered (less the grace): the rest is on its way, and sweeping it would race the
   * deliveries for the same streams. When JetStream cannot be asked, or has delivered nothing
   * to this replica for the grace period, the sweep takes over up to the grace period.
   */
  private get sweepGraceMs(): number {
    return this.options.sweepGraceMs ?? 2 * (this.options.sweepIntervalMs ?? 5_000);
  }

  private warnOfDatesAhead(events: readonly EventEnvelope[], datedAheadAfter: Date): void {
    const ahead = events.filter((e) => Date.parse(e.occurredAt) > datedAheadAfter.getTime());
    if (ahead.length === 0) return;
    this.logger.warn(
      {
        consumer: this.options.name,
        events: ahead.length,
        event: ahead[0].id,
        occurredAt: ahead[0].occurredAt,
        appendedBy: ahead[0].metadata.actor,
      },
      'sweep met events dated in the future: the clock of the process that appended them runs ahead',
    );
  }

  private async sweepHorizon(): Promise<Date> {
    const graceMs = this.sweepGraceMs;
    const byAge = Date.now() - graceMs;
    try {
      const jsm = await this.options.js.jetstreamManager(false);
      const info = await jsm.consumers.info(this.options.names.eventsStream, this.options.name);
      const idle = info.num_pending === 0 && info.num_ack_pending === 0;
      if (idle || Date.now() - this.delivered.at > graceMs) return new Date(byAge);
      return new Date(Math.min(byAge, this.delivered.upTo - graceMs));
    } catch {
      return new Date(byAge);
    }
  }

  /**
   * Like a delivery: retried on later passes, dead-lettered after the last attempt. When an
   * earlier event of its stream was the one dead-lettered, `envelope` is tried again at once,
   * so the checkpoint never moves past an event that was neither handled nor dead-lettered.
   */
  private async sweepOne(envelope: EventEnvelope): Promise<number> {
    for (;;) {
      try {
        const handled = await this.handleInOneTransaction([envelope], 'sweep');
        this.sweepFailures.delete(envelope.id);
        return handled;
      } catch (err) {
        if (!(err instanceof EventHandlingError)) throw err;
        const attempts = (this.sweepFailures.get(err.envelope.id) ?? 0) + 1;
        this.sweepFailures.set(err.envelope.id, attempts);
        const poison = err.cause instanceof PoisonMessageError;
        if (!poison && attempts < this.maxAttempts) throw err;
        await this.deadLetter(err, attempts);
        if (err.envelope.id === envelope.id) return 0;
        if (this.stopController.signal.aborted) throw err;
      }
    }
  }

  /** Records the dead letter and marks it done, after the events of its stream before it. */
  private async deadLetter(err: EventHandlingError, attempts: number): Promise<void> {
    await this.deadLetters.record({
      consumer: this.options.name,
      stream: EVENT_LOG_STREAM,
      seq: err.envelope.position,
      subject: this.options.names.subjectOfEnvelope(err.envelope),
      data: JSON.stringify(err.envelope),
      error: err.message,
      deliveryCount: attempts,
    });
    await this.skipAfterEarlier(err.envelope, 'sweep');
    this.sweepFailures.delete(err.envelope.id);
    this.logger.error(
      { consumer: this.options.name, event: err.envelope.id, error: err.message },
      'event dead-lettered',
    );
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
    const now = Date.now();
    const occurredAt = Math.min(now, Date.parse(envelope.occurredAt) || 0);
    this.delivered = { upTo: Math.max(this.delivered.upTo, occurredAt), at: now };
    if (!this.categories.has(parseStreamId(envelope.streamId).category)) return;
    const key = this.options.partitionKey?.(envelope) ?? envelope.streamId;
    const lane = this.lanes[this.lanes.length === 1 ? 0 : laneIndex(key, this.lanes.length)];
    try {
      await new Promise<void>((resolve, reject) => {
        lane.queue.push({ envelope, queuedAt: Date.now(), resolve, reject });
        if (!lane.draining) void this.drain(lane);
      });
    } catch (err) {
      if (err instanceof EventHandlingError && err.envelope.id !== envelope.id) {
        throw new DeferredMessageError(`waits for ${err.envelope.streamId}@${err.envelope.streamVersion}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  private async drain(lane: Lane): Promise<void> {
    lane.draining = true;
    try {
      while (lane.queue.length > 0) {
        // A short batch waits for company until its oldest event has waited `lingerMs`: per
        // event, a transaction of one costs several times what it costs in a batch.
        const lingerLeft = lane.queue[0].queuedAt + this.lingerMs - Date.now();
        if (lane.queue.length < this.batchSize && lingerLeft > 0)
          await sleep(lingerLeft, this.stopController.signal);
        await this.settle(lane.queue.splice(0, this.batchSize));
      }
    } finally {
      lane.draining = false;
    }
  }

  /** One transaction for the batch; when it fails, one per event so that only the culprit fails. */
  private async settle(batch: Delivery[]): Promise<void> {
    try {
      await this.handleInOneTransaction(this.inKeyOrder(batch.map((d) => d.envelope)), 'nats');
      for (const delivery of batch) delivery.resolve();
      return;
    } catch (err) {
      if (batch.length === 1) return batch[0].reject(err);
      this.logger.debug(
        { consumer: this.options.name, events: batch.length, ...errorFields(err) },
        'batch failed; handling its events one by one',
      );
    }
    const failedBefore = new Map<string, unknown>();
    for (const delivery of batch) {
      const earlierFailure = failedBefore.get(delivery.envelope.streamId);
      if (earlierFailure) {
        delivery.reject(earlierFailure);
        continue;
      }
      try {
        await this.handleInOneTransaction([delivery.envelope], 'nats');
        delivery.resolve();
      } catch (err) {
        failedBefore.set(delivery.envelope.streamId, err);
        delivery.reject(err);
      }
    }
  }

  /**
   * The batch sorted by partition key, stably (a stream's events keep their order): handlers
   * that lock a row per key lock them in one order, the order other writers of those rows
   * should use too, so that batches do not deadlock with them.
   */
  private inKeyOrder(envelopes: EventEnvelope[]): EventEnvelope[] {
    const keyOf = (e: EventEnvelope) => this.options.partitionKey?.(e) ?? e.streamId;
    return envelopes
      .map((envelope, index) => ({ envelope, index, key: keyOf(envelope) }))
      .sort((a, b) => inLockOrder(a.key, b.key) || a.index - b.index)
      .map(({ envelope }) => envelope);
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

  /**
   * Handles each envelope that is its stream's next version, after any earlier events of its
   * stream that were missed; skips what is done already. One transaction; the handled events
   * are reported once it committed. Returns how many were handled.
   */
  private async handleInOneTransaction(
    envelopes: EventEnvelope[],
    via: Via,
    oneByOne = false,
  ): Promise<number> {
    const streamIds = [...new Set(envelopes.map((e) => e.streamId))].sort();
    const handled: Array<{ envelope: EventEnvelope; via: Via }> = [];
    const batched = this.options.handleBatch !== undefined && !oneByOne;
    const client = await this.options.pool.connect();
    try {
      await client.query(beginStatement(this.options));
      const versions = await this.lockStreams(client, streamIds);
      const pruned = await this.prunedAmong(client, envelopes, versions);
      const moved = new Set<string>();
      for (const envelope of envelopes) {
        const last = versions.get(envelope.streamId) ?? 0;
        if (envelope.streamVersion <= last || pruned.has(envelope.position)) continue;
        const due =
          envelope.streamVersion === last + 1 ? [envelope] : await this.missedThrough(client, envelope, last);
        if (!batched) for (const event of due) await this.handleEach([event], client);
        for (const event of due) handled.push({ envelope: event, via: event === envelope ? via : 'gap' });
        versions.set(envelope.streamId, envelope.streamVersion);
        moved.add(envelope.streamId);
        if (due.length > 1) {
          this.logger.info(
            {
              consumer: this.options.name,
              streamId: envelope.streamId,
              from: last + 1,
              to: envelope.streamVersion,
            },
            'filled a gap from the store',
          );
        }
      }
      if (batched && handled.length > 0)
        await this.handleEach(
          handled.map((h) => h.envelope),
          client,
        );
      if (moved.size > 0) {
        await this.saveVersions(
          client,
          [...moved].map((id) => [id, versions.get(id)!] as const),
        );
        await client.query('COMMIT');
      } else {
        await client.query('ROLLBACK');
      }
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (err instanceof BatchHandlerFailed) {
        this.logger.warn(
          { consumer: this.options.name, events: envelopes.length, ...errorFields(err.cause) },
          'batch handler failed; handling the events one by one to find the culprit',
        );
        return this.handleInOneTransaction(envelopes, via, true);
      }
      throw err;
    } finally {
      client.release();
    }
    for (const h of handled) this.options.metrics?.onHandled?.(h.envelope, h.via);
    return handled.length;
  }

  /** Runs the handler on `events`, in order; a failure names its event when it can. */
  private async handleEach(events: readonly EventEnvelope[], client: PoolClient): Promise<void> {
    const options = this.options;
    if (options.handleBatch) {
      try {
        await options.handleBatch(events, client);
      } catch (err) {
        if (events.length === 1) throw new EventHandlingError(events[0], err);
        throw new BatchHandlerFailed(`${this.options.name}: batch of ${events.length} failed`, {
          cause: err,
        });
      }
      return;
    }
    for (const event of events) {
      try {
        await options.handle(event, client);
      } catch (err) {
        throw new EventHandlingError(event, err);
      }
    }
  }

  /**
   * Positions of the envelopes whose version row may have been pruned (a closed stream's,
   * none, older than half the retention: appenders' clocks may be off) and that are behind
   * the sweep checkpoint, so handled before.
   */
  private async prunedAmong(
    client: PoolClient,
    envelopes: EventEnvelope[],
    versions: Map<string, number>,
  ): Promise<Set<string>> {
    const { categories, retentionMs } = this.closedStreams;
    const oldBefore = Date.now() - retentionMs / 2;
    const candidates = envelopes.filter(
      (e) =>
        !versions.has(e.streamId) &&
        categories.includes(parseStreamId(e.streamId).category) &&
        Date.parse(e.occurredAt) < oldBefore,
    );
    if (candidates.length === 0) return new Set();
    const { rows } = await client.query<{ position: string }>(
      `SELECT e.position::text AS position FROM events e
         JOIN consumer_checkpoints c ON c.consumer = $1
        WHERE e.position = ANY($2::bigint[])
          AND (e.transaction_id, e.position) <= (c.transaction_id::text::xid8, c.position)`,
      [this.options.name, candidates.map((e) => e.position)],
    );
    return new Set(rows.map((row) => row.position));
  }

  /** The events of `envelope`'s stream after `last`, up to and including `envelope`, from the store. */
  private async missedThrough(
    client: PoolClient,
    envelope: EventEnvelope,
    last: number,
  ): Promise<EventEnvelope[]> {
    const missed = (await this.options.store.readStream(envelope.streamId, { fromVersion: last + 1 })).filter(
      (e) => e.streamVersion < envelope.streamVersion,
    );
    missed.forEach((e, i) => {
      if (e.streamVersion !== last + 1 + i)
        throw new Error(`${envelope.streamId} has no version ${last + 1 + i} in the store`);
    });
    if (missed.length !== envelope.streamVersion - last - 1)
      throw new Error(`${envelope.streamId} has no version ${last + 1 + missed.length} in the store`);
    return [...missed, envelope];
  }

  /** Marks a dead-lettered event done, so its stream moves on. */
  private async onGiveUp(error: unknown): Promise<void> {
    if (error instanceof EventHandlingError) await this.skipAfterEarlier(error.envelope, 'gap');
  }

  /**
   * Marks `envelope` done. When its stream is further behind (the earlier events, read from
   * the store to fill a gap, failed with it in one transaction), those are handled first.
   */
  private async skipAfterEarlier(envelope: EventEnvelope, via: Via): Promise<void> {
    if (await this.skip(envelope)) return;
    const earlier = (await this.options.store.readStream(envelope.streamId, { fromVersion: 1 })).filter(
      (e) => e.streamVersion < envelope.streamVersion,
    );
    for (const event of earlier) await this.handleInOneTransaction([event], via);
    await this.skip(envelope);
  }

  /** Marks `envelope` done if it is its stream's next version; returns whether it is done now. */
  private async skip(envelope: EventEnvelope): Promise<boolean> {
    const client = await this.options.pool.connect();
    try {
      await client.query('BEGIN');
      const versions = await this.lockStreams(client, [envelope.streamId]);
      const last = versions.get(envelope.streamId) ?? 0;
      if (last === envelope.streamVersion - 1) {
        await this.saveVersions(client, [[envelope.streamId, envelope.streamVersion]]);
      }
      await client.query('COMMIT');
      return last >= envelope.streamVersion - 1;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Locks the streams in a fixed (sorted) order, so that two transactions cannot deadlock on them. */
  private async lockStreams(client: PoolClient, sortedStreamIds: string[]): Promise<Map<string, number>> {
    await client.query({
      name: 'consumer.lock-streams',
      // Postgres evaluates a volatile function in the select list after the ORDER BY.
      text: 'SELECT pg_advisory_xact_lock(hashtextextended($1 || s, 0)) FROM unnest($2::text[]) AS s ORDER BY s',
      values: [`cronicorn.event-consumer.${this.options.name}.`, sortedStreamIds],
    });
    const { rows } = await client.query<{ stream_id: string; version: number }>({
      name: 'consumer.read-versions',
      text: 'SELECT stream_id, version FROM consumer_stream_versions WHERE consumer = $1 AND stream_id = ANY($2)',
      values: [this.options.name, sortedStreamIds],
    });
    return new Map(rows.map((row) => [row.stream_id, row.version]));
  }

  private async saveVersions(
    client: PoolClient,
    versions: ReadonlyArray<readonly [string, number]>,
  ): Promise<void> {
    await client.query({
      name: 'consumer.save-versions',
      text: `INSERT INTO consumer_stream_versions (consumer, stream_id, version)
       SELECT $1, v.stream_id, v.version FROM unnest($2::text[], $3::int[]) AS v (stream_id, version)
       ON CONFLICT (consumer, stream_id) DO UPDATE SET version = EXCLUDED.version, updated_at = now()`,
      values: [this.options.name, versions.map(([id]) => id), versions.map(([, v]) => v)],
    });
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

/**
 * The order in which keyed rows are locked, everywhere they are locked several at a time (code
 * unit order, the same as Postgres's `COLLATE "C"` for ASCII ids).
 */
export function inLockOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function laneIndex(key: string, lanes: number): number {
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) | 0;
  return Math.abs(hash) % lanes;
}
