import type { EventEnvelope } from '@cronicorn/events';
import type { EventStore } from '@cronicorn/event-store';
import { consoleLogger, LogTail, MessagingLogger } from '@cronicorn/messaging';
import {
  PROJECTOR_CONSUMER,
  PROJECTOR_CONTROL_CHANNEL,
  PROJECTOR_LOCK,
  projectLogPage,
  STEP_DOWN,
} from '@cronicorn/read-models';
import type { Pool } from 'pg';

export interface ProjectorRunnerMetrics {
  /** An event of the log was read and its page committed. */
  onApplied?(envelope: EventEnvelope): void;
  /** This process started or stopped being the one writing the read models. */
  onActive?(active: boolean): void;
}

export interface ProjectorRunnerOptions {
  pool: Pool;
  store: Pick<EventStore, 'readStream' | 'readAll'>;
  /** Resolves when the database is migrated. */
  ready?: Promise<unknown>;
  /** Row of its checkpoint in `consumer_checkpoints`. Default `projector`. */
  consumerName?: string;
  /** How often a standby replica tries the lock. Default 3 s. */
  standbyRetryMs?: number;
  /** How often the active projector proves its lock session is alive. Default 2 s. */
  lockCheckMs?: number;
  /** How long that proof may take before the session counts as lost. Default 10 s. */
  lockCheckTimeoutMs?: number;
  /** How often it reads the log when no append woke it. Default 1 s. */
  pollIntervalMs?: number;
  /** After catching up and being woken, how long to wait for more appends to share the page. Default 25 ms. */
  lingerMs?: number;
  logger?: MessagingLogger;
  metrics?: ProjectorRunnerMetrics;
}

/**
 * Keeps the read models up with the log in at most one process at a time: a `LogTail`
 * (ADR 0031) whose leader holds the projector lock, the one a rebuild takes after asking the
 * active projector to step down (a NOTIFY on the control channel). Each step applies a page of
 * the log after the checkpoint (`projectLogPage`) and moves the checkpoint in one transaction.
 * Other replicas stand by and retry the lock.
 */
export class ProjectorRunner {
  private readonly tail: LogTail;

  constructor(private readonly options: ProjectorRunnerOptions) {
    const logger = options.logger ?? consoleLogger;
    this.tail = new LogTail({
      pool: options.pool,
      store: options.store,
      name: this.consumerName,
      handle: async (envelopes, client) => void (await projectLogPage(envelopes, client, options.store)),
      onHandled: (envelopes) => envelopes.forEach((envelope) => options.metrics?.onApplied?.(envelope)),
      // Read models are rebuilt from the log: a commit lost in a Postgres crash is redone.
      durableCommit: false,
      // The projections read and write rows by key.
      genericPlans: true,
      pollIntervalMs: options.pollIntervalMs,
      // Appends commit a few at a time: a page per commit would cost a transaction each.
      lingerMs: options.lingerMs ?? 25,
      logger,
      leadership: {
        lockName: PROJECTOR_LOCK,
        role: 'projector',
        logFields: { consumer: this.consumerName },
        ready: options.ready,
        standbyRetryMs: options.standbyRetryMs ?? 3_000,
        standbyMessage: 'another projector is active; standing by',
        lockCheckMs: options.lockCheckMs,
        lockCheckTimeoutMs: options.lockCheckTimeoutMs,
        stepDown: {
          channel: PROJECTOR_CONTROL_CHANNEL,
          payload: STEP_DOWN,
          message: 'a rebuild asked the projector to step down',
        },
        onLeadership: (active) => options.metrics?.onActive?.(active),
      },
    });
  }

  get isActive(): boolean {
    return this.tail.isLeader;
  }

  get consumerName(): string {
    return this.options.consumerName ?? PROJECTOR_CONSUMER;
  }

  start(): void {
    this.tail.start();
  }

  /** Stops applying (the step running finishes), releases the lock and returns. */
  async stop(): Promise<void> {
    await this.tail.stop();
  }
}
