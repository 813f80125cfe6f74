import type { JetStreamClient } from '@nats-io/jetstream';
import type { Pool } from 'pg';
import { endpointKeyOf, NatsNames } from '@cronicorn/events';
import { EventStore } from '@cronicorn/event-store';
import {
  ConsumerSpec,
  consoleLogger,
  EventConsumer,
  eventConsumerSpec,
  MessagingLogger,
} from '@cronicorn/messaging';
import type { Clock } from '@cronicorn/platform';
import { DispatchOutbox } from './dispatch/dispatch-outbox';
import { DueLoop } from './due/due-loop';
import { ScheduleFolder } from './fold/schedule-folder';
import { SchedulerMetrics } from './scheduler.metrics';
import { SchedulerOptions, schedulerOptions } from './scheduler.options';
import { ScheduleWriter } from './schedule/schedule.writer';

/** The streams the scheduler folds. */
export const SCHEDULER_CATEGORIES = ['endpoint', 'job', 'run'] as const;

/** Provisioning of the scheduler's durable consumer on the events stream. */
export function schedulerConsumerSpec(names: NatsNames, name = 'scheduler'): ConsumerSpec {
  return eventConsumerSpec(name, names, SCHEDULER_CATEGORIES, {
    description: 'scheduler: folds endpoint, job and run events into the schedule table',
  });
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
 * One scheduler replica on one NATS connection: the event consumer that folds events into the
 * schedule table, the due loop that hands plans out at their time, and the dispatch outbox.
 * Any number of replicas may run against one database; they share the durable consumer and
 * split the due rows through leases.
 */
export class Scheduler {
  readonly options: SchedulerOptions;
  readonly consumer: EventConsumer;
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
    this.consumer = new EventConsumer({
      name: options.consumerName,
      names: deps.names,
      categories: SCHEDULER_CATEGORIES,
      handle: folder.handle,
      js: deps.js,
      pool: deps.pool,
      store: deps.store,
      concurrency: options.consumerConcurrency,
      batchSize: options.consumerBatchSize,
      partitionKey: endpointKeyOf,
      sweepIntervalMs: options.sweepIntervalMs,
      logger,
      metrics: { onHandled: (envelope) => folder.committed(envelope) },
    });
  }

  get owner(): string {
    return this.options.owner;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.consumer.start();
    this.outbox.start();
    this.dueLoop.start();
  }

  /** Stops claiming and gives the leases back, then stops the outbox and the consumer. */
  async stop(): Promise<void> {
    await this.dueLoop.stop();
    await Promise.all([this.outbox.stop(), this.consumer.stop()]);
  }
}
