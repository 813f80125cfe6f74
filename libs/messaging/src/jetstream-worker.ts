import type { ConsumerInfo, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { millis } from '@nats-io/nats-core';
import { backoffMs, sleep } from './backoff';
import { DeadLetterRecorder } from './dead-letters';
import { DeferredMessageError, PoisonMessageError } from './errors';
import { consoleLogger, errorFields, MessagingLogger } from './logger';
import { attemptsOf } from './provisioning';

/** What a handler gets besides the message. */
export interface MessageContext {
  /** 1 on the first delivery. */
  readonly deliveryCount: number;
  /** Resets the server's ack timer; call it during work that may outlast `ack_wait`. */
  working(): void;
}

/**
 * Resolve → `ack`. Throw → `nak` with a backoff growing with the delivery count, until the
 * last attempt; then (or at once for a {@link PoisonMessageError}) → dead letter + `term`
 * (a {@link DeferredMessageError}: `term` without a dead letter).
 */
export type MessageHandler = (msg: JsMsg, context: MessageContext) => Promise<void>;

export type MessageOutcome = 'ack' | 'nak' | 'term';

/** Optional metrics hooks; keep them cheap, they run on the message path. */
export interface WorkerMetrics {
  onMessage?(outcome: MessageOutcome, durationMs: number): void;
}

export interface JetStreamWorkerOptions {
  js: JetStreamClient;
  stream: string;
  durable: string;
  handler: MessageHandler;
  deadLetters: DeadLetterRecorder;
  /** Handlers running at once. Default 1 (in order, per worker). */
  concurrency?: number;
  /** Messages buffered by `consume()`. Default twice the concurrency. */
  maxMessages?: number;
  /** Attempts before dead-lettering. Default: what `provisionConsumer` configured. */
  maxDeliver?: number;
  /** Delay before redelivery after a failed attempt. Default 1 s doubling to 60 s. */
  retryDelayMs?: (deliveryCount: number) => number;
  /**
   * Interval of the `working()` calls that keep the server's ack timer of every message the
   * worker holds (waiting for a slot or being handled) from running out. Default a third of
   * the consumer's `ack_wait`; 0 turns them off.
   */
  heartbeatMs?: number;
  /** Runs before a message is dead-lettered (e.g. to skip it in a per-stream cursor). */
  onGiveUp?: (msg: JsMsg, error: unknown) => Promise<void>;
  logger?: MessagingLogger;
  metrics?: WorkerMetrics;
}

/**
 * The one way apps consume JetStream: a durable pull consumer read with
 * `for await (m of consumer.consume())`, inside an outer loop that gets the consumer again
 * (with backoff) when the stream, the consumer or the connection went away. Handlers run
 * with bounded concurrency; `stop()` stops pulling, gives back buffered messages that were
 * not started, waits for running handlers to finish and settle their messages, then returns.
 * A message the worker holds is kept from redelivery by `working()` until it is settled, so
 * that a busy worker (a handler that queues it, like the event consumer's lanes) does not
 * get copies of it, nor dead-letter one as out of deliveries.
 */
export class JetStreamWorker {
  private readonly concurrency: number;
  private readonly logger: MessagingLogger;
  private readonly stopController = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private messages: ConsumerMessages | null = null;
  private running: Promise<void> | null = null;
  private maxDeliver = Number.POSITIVE_INFINITY;
  private freeSlots: number;
  private slotWaiters: Array<() => void> = [];
  /** Messages taken from `consume()` and not yet settled. */
  private readonly held = new Set<JsMsg>();
  private heartbeat: { ms: number; timer: ReturnType<typeof setInterval> } | null = null;

  constructor(private readonly options: JetStreamWorkerOptions) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.freeSlots = this.concurrency;
    this.logger = options.logger ?? consoleLogger;
  }

  /** Attempts per message before it is dead-lettered (known once the consumer was fetched). */
  get maxAttempts(): number {
    return this.maxDeliver;
  }

  get name(): string {
    return `${this.options.stream}/${this.options.durable}`;
  }

  start(): void {
    if (this.running) return;
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    void this.messages?.close();
    await this.running;
    await Promise.all(this.inFlight);
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const consumer = await this.options.js.consumers.get(this.options.stream, this.options.durable);
        const info = await consumer.info(true);
        this.maxDeliver = this.options.maxDeliver ?? attemptsOf(info);
        this.beatEvery(this.options.heartbeatMs ?? heartbeatOf(info));
        const messages = await consumer.consume({
          max_messages: this.options.maxMessages ?? this.concurrency * 2,
        });
        this.messages = messages;
        if (this.stopping) void messages.close();
        void this.watch(messages);
        for await (const m of messages) {
          if (failures > 0) {
            this.logger.info({ consumer: this.name }, 'consuming again');
            failures = 0;
          }
          this.held.add(m);
          await this.acquireSlot();
          if (this.stopping) {
            this.held.delete(m);
            this.releaseSlot();
            m.nak();
            continue;
          }
          const task = this.process(m).finally(() => {
            this.held.delete(m);
            this.inFlight.delete(task);
            this.releaseSlot();
          });
          this.inFlight.add(task);
        }
        if (!this.stopping) {
          failures += 1;
          this.logger.warn(
            { consumer: this.name, attempt: failures },
            'consume ended; getting the consumer again',
          );
        }
      } catch (err) {
        failures += 1;
        this.logger.warn(
          { consumer: this.name, attempt: failures, ...errorFields(err) },
          'consume failed; retrying',
        );
      }
      this.messages = null;
      if (!this.stopping) await sleep(backoffMs(failures, 250, 15_000), this.stopController.signal);
    }
    await Promise.all(this.inFlight);
    this.beatEvery(0);
  }

  /**
   * One timer per worker beats for all held messages, rather than a timer per message: a
   * worker may hold hundreds (the event consumer's lanes × batch size), most of them settled
   * long before a beat is due, so per-message timers would be mostly set up and torn down for
   * nothing. A message may wait up to one interval for its first beat, still well within
   * `ack_wait` at the default of a third of it.
   */
  private beatEvery(ms: number): void {
    const interval = Math.max(0, ms);
    if ((this.heartbeat?.ms ?? 0) === interval) return;
    if (this.heartbeat) clearInterval(this.heartbeat.timer);
    this.heartbeat = null;
    if (interval === 0) return;
    const timer = setInterval(() => {
      for (const m of this.held) {
        try {
          m.working();
        } catch {
          // The connection is gone: the server redelivers the message, the handler goes on.
        }
      }
    }, interval);
    timer.unref();
    this.heartbeat = { ms: interval, timer };
  }

  /** Re-creates the pull when the server goes quiet or the consumer vanished (README "Heartbeats"). */
  private async watch(messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      if (status.type === 'heartbeats_missed' && status.count >= 2) {
        this.logger.warn(
          { consumer: this.name, missed: status.count },
          'heartbeats missed; re-creating consume',
        );
        void messages.close();
      } else if (status.type === 'consumer_not_found' || status.type === 'consumer_deleted') {
        this.logger.warn(
          { consumer: this.name, status: status.type },
          'consumer missing; re-creating consume',
        );
        void messages.close();
      }
    }
  }

  private async process(m: JsMsg): Promise<void> {
    const started = Date.now();
    const deliveryCount = m.info.deliveryCount;
    const outcome = await this.outcomeOf(m, deliveryCount);
    this.options.metrics?.onMessage?.(outcome, Date.now() - started);
  }

  private async outcomeOf(m: JsMsg, deliveryCount: number): Promise<MessageOutcome> {
    if (deliveryCount > this.maxDeliver) {
      // The spare delivery: the last attempt ended without an outcome (its process died).
      return this.giveUp(m, new Error(`no outcome after ${this.maxDeliver} deliveries`), deliveryCount);
    }
    try {
      await this.options.handler(m, { deliveryCount, working: () => m.working() });
      m.ack();
      return 'ack';
    } catch (err) {
      if (err instanceof DeferredMessageError && deliveryCount >= this.maxDeliver) {
        this.logger.info(
          { consumer: this.name, seq: m.seq, subject: m.subject, deliveryCount, ...errorFields(err) },
          'message still deferred after its last delivery; dropped without a dead letter',
        );
        m.term();
        return 'term';
      }
      if (err instanceof PoisonMessageError || deliveryCount >= this.maxDeliver) {
        return this.giveUp(m, err, deliveryCount);
      }
      const delay = this.retryDelay(deliveryCount);
      this.logger.warn(
        {
          consumer: this.name,
          seq: m.seq,
          subject: m.subject,
          deliveryCount,
          retryInMs: delay,
          ...errorFields(err),
        },
        'handler failed; message will be redelivered',
      );
      m.nak(delay);
      return 'nak';
    }
  }

  private async giveUp(m: JsMsg, error: unknown, deliveryCount: number): Promise<MessageOutcome> {
    const message = error instanceof Error ? error.message : String(error);
    try {
      await this.options.deadLetters.record({
        consumer: this.options.durable,
        stream: this.options.stream,
        seq: m.seq,
        subject: m.subject,
        data: m.string(),
        error: message,
        deliveryCount,
      });
      await this.options.onGiveUp?.(m, error);
    } catch (recordErr) {
      this.logger.error(
        { consumer: this.name, seq: m.seq, ...errorFields(recordErr) },
        'could not record dead letter; message will be redelivered',
      );
      m.nak(this.retryDelay(deliveryCount));
      return 'nak';
    }
    this.logger.error(
      { consumer: this.name, seq: m.seq, subject: m.subject, deliveryCount, error: message },
      'message dead-lettered',
    );
    // No reason argument: nats-server 2.9 does not parse `+TERM <reason>` and redelivers.
    m.term();
    return 'term';
  }

  private retryDelay(deliveryCount: number): number {
    return this.options.retryDelayMs?.(deliveryCount) ?? backoffMs(deliveryCount, 1_000, 60_000);
  }

  private acquireSlot(): Promise<void> {
    if (this.freeSlots > 0) {
      this.freeSlots -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.freeSlots += 1;
  }
}

/** A third of the consumer's `ack_wait` (the server's default, 30 s, when unset): two beats may be lost. */
function heartbeatOf(info: ConsumerInfo): number {
  const ackWait = info.config.ack_wait ? millis(info.config.ack_wait) : 30_000;
  return Math.max(1, Math.floor(ackWait / 3));
}
