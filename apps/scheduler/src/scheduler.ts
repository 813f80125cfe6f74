import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Pool } from 'pg';
import { endpointKeyOf, NatsNames, StreamCategory } from '@cronicorn/events';
import { EventStore } from '@cronicorn/event-store';
import {
  consoleLogger,
  EventConsumer,
  eventConsumerSpec,
  MessagingLogger,
  provisionConsumer,
} from '@cronicorn/messaging';
import type { Clock } from '@cronicorn/platform';
import { DispatchOutbox } from './dispatch/dispatch-outbox';
import { DueLoop } from './due/due-loop';
import { ScheduleFolder } from './fold/schedule-folder';
import { SchedulerMetrics } from './scheduler.metrics';
import { SchedulerOptions, schedulerOptions } from './scheduler.options';
import { ScheduleWriter } from './schedule/schedule.writer';

/**
 * The scheduler folds each category through its own durable consumer, so that user commands
 * (endpoint and job events) are folded at once even while run events queue up under load.
 * The fold is written for that: every event locks the endpoint rows it changes, and the failure
 * streak is kept by instants, so events of different streams may be folded in any order.
 * The run fold keeps the plain name (and its bookkeeping) because it carries nearly all events.
 */
export const SCHEDULER_FOLDS = [
  { category: 'run', suffix: '', folds: 'run events (starts, finishes)' },
  { category: 'endpoint', suffix: '-endpoints', folds: 'endpoint events (user commands, hints)' },
  { category: 'job', suffix: '-jobs', folds: 'job events' },
] as const satisfies readonly { category: StreamCategory; suffix: string; folds: string }[];

type SchedulerFold = (typeof SCHEDULER_FOLDS)[number];

/** The durable consumer of one fold: `scheduler`, `scheduler-endpoints`, `scheduler-jobs`. */
function schedulerConsumerName(fold: SchedulerFold, name = 'scheduler'): string {
  return `${name}${fold.suffix}`;
}

/** Creates or updates the scheduler's durable consumers on the events stream, one per fold. */
export async function provisionSchedulerConsumers(
  jsm: JetStreamManager,
  names: NatsNames,
  name = 'scheduler',
): Promise<void> {
  for (const fold of SCHEDULER_FOLDS) {
    const spec = eventConsumerSpec(schedulerConsumerName(fold, name), names, [fold.category], {
      description: `scheduler: folds ${fold.folds} into the schedule table`,
    });
    await provisionConsumer(jsm, names.eventsStream, spec);
  }
}

export interface SchedulerDeps {
  pool: Pool;
  store: Pick<EventStore, 'append' | 'appendMany' | 'readStream' | 'readAll'>;
  js: JetStreamClient;
  names: NatsNames;
  clock: Clock;
  options?: Partial<SchedulerOptions>;
  logger?: MessagingLogger;
  metrics?: SchedulerMetrics;
}

/**
 * One scheduler replica on one NATS connection: the event consumers that fold events into the
 * schedule table, the due loop that hands plans out at their time, and the dispatch outbox.
 * Any number of replicas may run against one database; they share the durable consumers and
 * split the due rows through leases.
 */
export class Scheduler {
  readonly options: SchedulerOptions;
  /** One per fold, in `SCHEDULER_FOLDS` order. */
  readonly consumers: EventConsumer[];
  readonly dueLoop: DueLoop;
  readonly outbox: DispatchOutbox;
  private started = false;

  constructor(deps: SchedulerDeps) {
    const options = schedulerOptions(deps.options);
    const logger = deps.logger ?? consoleLogger;
    const writer = new ScheduleWriter(deps.store, logger);
    this.options = options;
    this.outbox = new DispatchOutbox({
      pool: deps.pool,
      js: deps.js,
      names: deps.names,
      clock: deps.clock,
      writer,
      options,
      governor: options.governor,
      logger,
      metrics: deps.metrics,
      wakeDue: () => this.dueLoop.wake(),
    });
    this.dueLoop = new DueLoop({
      pool: deps.pool,
      clock: deps.clock,
      writer,
      outbox: this.outbox,
      options,
      governor: options.governor,
      logger,
      metrics: deps.metrics,
    });
    const folder = new ScheduleFolder({
      writer,
      clock: deps.clock,
      governor: options.governor,
      horizonMs: options.horizonMs,
      logger,
      metrics: deps.metrics,
      wakeDue: () => this.dueLoop.wake(),
      wakeOutbox: () => this.outbox.wake(),
    });
    this.consumers = SCHEDULER_FOLDS.map(
      (fold) =>
        new EventConsumer({
          name: schedulerConsumerName(fold, options.consumerName),
          names: deps.names,
          categories: [fold.category],
          handleBatch: folder.handleBatch,
          js: deps.js,
          pool: deps.pool,
          store: deps.store,
          // Job events are rare; endpoint events come in bursts (a tenant creating endpoints).
          concurrency: fold.category === 'job' ? 1 : options.consumerConcurrency,
          batchSize: fold.category === 'run' ? options.runFoldBatchSize : options.consumerBatchSize,
          partitionKey: endpointKeyOf,
          // The folds read and write rows by endpoint, job or run id.
          genericPlans: true,
          sweepIntervalMs: options.sweepIntervalMs,
          logger,
          metrics: { onHandled: (envelope) => folder.committed(envelope) },
        }),
    );
  }

  get owner(): string {
    return this.options.owner;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const consumer of this.consumers) consumer.start();
    this.outbox.start();
    this.dueLoop.start();
  }

  /** Stops claiming and gives the leases back, then stops the outbox and the consumers. */
  async stop(): Promise<void> {
    await this.dueLoop.stop();
    await Promise.all([this.outbox.stop(), ...this.consumers.map((consumer) => consumer.stop())]);
  }
}
