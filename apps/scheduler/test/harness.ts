import { randomUUID } from 'node:crypto';
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { AckPolicy, ConsumerMessages } from '@nats-io/jetstream';
import type { Pool } from 'pg';
import {
  DispatchWorkItem,
  EndpointConfig,
  Event,
  EventEnvelope,
  NatsNames,
  RunFinished,
  RunStarted,
  streamIds,
} from '@cronicorn/events';
import {
  Command,
  Decider,
  endpointConfigWithDefaults,
  endpointDecider,
  EndpointCommand,
  jobDecider,
  JobCommand,
} from '@cronicorn/domain';
import { ConcurrencyError, PostgresEventStore } from '@cronicorn/event-store';
import { OutboxRelay, silentLogger } from '@cronicorn/messaging';
import { Clock, createPool, SystemClock } from '@cronicorn/platform';
import {
  createTestDatabase,
  createTestNats,
  decideAndAppend,
  TestDatabase,
  TestNats,
} from '@cronicorn/testing';
import { ScheduleFolder } from '../src/fold/schedule-folder';
import { ScheduleWriter } from '../src/schedule/schedule.writer';
import { provisionSchedulerConsumers, Scheduler } from '../src/scheduler';
import { SchedulerMetrics } from '../src/scheduler.metrics';
import { SchedulerOptions } from '../src/scheduler.options';

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await delay(25);
  }
}

/** A work item as the test dispatcher received it. */
export interface Received {
  seq: number;
  msgId: string | undefined;
  item: DispatchWorkItem;
  /** The apps' clock when it arrived. */
  receivedAt: number;
}

/** Counts what a scheduler replica published. */
export class PublishCounter implements SchedulerMetrics {
  published = 0;
  duplicates = 0;
  onPublished(_trigger: string, _latenessMs: number | null, duplicate: boolean): void {
    this.published += 1;
    if (duplicate) this.duplicates += 1;
  }
}

/**
 * One test world: a database, a NATS namespace, the outbox relay, the `scheduler` durable,
 * scheduler replicas, and a stand-in dispatcher that records every work item and (unless told
 * not to for an endpoint) appends `RunStarted` and `RunFinished` like the real one.
 */
export class SchedulerWorld {
  readonly received: Received[] = [];
  /** Endpoints whose runs the test dispatcher takes off the queue without starting them. */
  readonly neverStart = new Set<string>();
  /** Endpoints whose runs fail (HTTP 500). */
  readonly failing = new Set<string>();
  readonly tenantId = randomUUID();
  private readonly schedulers: Scheduler[] = [];
  private readonly pools: Pool[] = [];
  private relay!: OutboxRelay;
  private messages: ConsumerMessages | null = null;
  private consuming: Promise<void> | null = null;

  private constructor(
    readonly db: TestDatabase,
    readonly nats: TestNats,
    readonly store: PostgresEventStore,
    /** The apps' clock: of the replicas started from now on, of commands and the test dispatcher. */
    public clock: Clock,
  ) {}

  static async create(clock: Clock = new SystemClock()): Promise<SchedulerWorld> {
    const db = await createTestDatabase({ max: 20 });
    const nats = await createTestNats();
    const world = new SchedulerWorld(db, nats, new PostgresEventStore(db.pool), clock);
    world.relay = new OutboxRelay({
      pool: db.pool,
      store: world.store,
      js: nats.js,
      names: nats.names,
      pollIntervalMs: 100,
      logger: silentLogger,
    });
    world.relay.start();
    await provisionSchedulerConsumers(nats.jsm, nats.names);
    await world.startDispatcher();
    return world;
  }

  get names(): NatsNames {
    return this.nats.names;
  }

  /**
   * A scheduler replica on its own pool, as another process would have. `onPool` may wrap the
   * pool's methods before the replica uses it (to act between two of its statements).
   */
  startScheduler(
    options: Partial<SchedulerOptions> = {},
    metrics?: SchedulerMetrics,
    onPool?: (pool: Pool) => void,
  ): Scheduler {
    const pool = createPool(this.db.url, { max: 12, applicationName: 'scheduler-test' });
    this.pools.push(pool);
    onPool?.(pool);
    const scheduler = new Scheduler({
      pool,
      store: new PostgresEventStore(pool),
      js: this.nats.js,
      names: this.nats.names,
      clock: this.clock,
      options: { sweepIntervalMs: 1_000, ...options },
      logger: silentLogger,
      metrics,
    });
    this.schedulers.push(scheduler);
    scheduler.start();
    return scheduler;
  }

  async stopScheduler(scheduler: Scheduler): Promise<void> {
    const i = this.schedulers.indexOf(scheduler);
    if (i >= 0) this.schedulers.splice(i, 1);
    await scheduler.stop();
  }

  async close(): Promise<void> {
    await Promise.all(this.schedulers.splice(0).map((s) => s.stop()));
    void this.messages?.close();
    await this.consuming;
    await this.relay.stop();
    await Promise.all(this.pools.map((p) => p.end()));
    await this.nats.cleanup();
    await this.db.drop();
  }

  //////////////////////////////////////// Commands, as command-api would append them

  async command<S, C extends Command, E extends Event>(
    decider: Decider<S, C, E>,
    streamId: string,
    command: C,
  ): Promise<EventEnvelope[]> {
    return decideAndAppend(this.store, decider, streamId, command, {
      tenantId: this.tenantId,
      occurredAt: this.clock.now(),
    });
  }

  async createJob(): Promise<string> {
    const jobId = randomUUID();
    await this.jobCommand(jobId, { type: 'CreateJob', data: { jobId, name: 'job', description: null } });
    return jobId;
  }

  jobCommand(jobId: string, command: Omit<JobCommand, 'metadata'>): Promise<EventEnvelope[]> {
    return this.command(jobDecider, streamIds.job(jobId), {
      ...command,
      metadata: { now: this.clock.now() },
    } as JobCommand);
  }

  async createEndpoint(jobId: string, config: Partial<EndpointConfig> & Pick<EndpointConfig, 'schedule'>) {
    const endpointId = randomUUID();
    const full = endpointConfigWithDefaults({ name: 'ep', url: 'https://example.com/hook', ...config });
    await this.endpointCommand(endpointId, {
      type: 'CreateEndpoint',
      data: { endpointId, jobId, jobStatus: 'active', config: full },
    });
    return endpointId;
  }

  endpointCommand(endpointId: string, command: Omit<EndpointCommand, 'metadata'>): Promise<EventEnvelope[]> {
    return this.command(endpointDecider, streamIds.endpoint(endpointId), {
      ...command,
      metadata: { now: this.clock.now() },
    } as EndpointCommand);
  }

  //////////////////////////////////////// What happened

  receivedFor(endpointId: string): Received[] {
    return this.received.filter((r) => r.item.endpointId === endpointId);
  }

  async scheduleEvents(endpointId: string): Promise<EventEnvelope[]> {
    return this.store.readStream(streamIds.schedule(endpointId));
  }

  async row(endpointId: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await this.db.pool.query('SELECT * FROM scheduler_endpoints WHERE endpoint_id = $1', [
      endpointId,
    ]);
    return rows[0];
  }

  //////////////////////////////////////// The stand-in dispatcher

  private async startDispatcher(): Promise<void> {
    const durable = 'test-dispatcher';
    await this.nats.jsm.consumers.add(this.names.dispatchStream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: this.names.allDispatch,
    });
    const consumer = await this.nats.js.consumers.get(this.names.dispatchStream, durable);
    const messages = await consumer.consume({ max_messages: 200 });
    this.messages = messages;
    this.consuming = (async () => {
      for await (const m of messages) {
        const item = m.json<DispatchWorkItem>();
        this.received.push({
          seq: m.seq,
          msgId: m.headers?.get('Nats-Msg-Id'),
          item,
          receivedAt: this.clock.now().getTime(),
        });
        if (!this.neverStart.has(item.endpointId)) await this.run(item);
        m.ack();
      }
    })();
  }

  /** Stops the outbox relay: events are appended but reach no consumer, like a fold far behind. */
  async pauseRelay(): Promise<void> {
    await this.relay.stop();
  }

  /** Appends `RunStarted` and `RunFinished` for the work item, like the real dispatcher. */
  async run(item: DispatchWorkItem): Promise<void> {
    const startedAt = this.clock.now();
    const common = {
      runId: item.runId,
      endpointId: item.endpointId,
      jobId: item.jobId,
      scheduledFor: item.scheduledFor,
      startedAt: startedAt.toISOString(),
      trigger: item.trigger,
      retryOf: item.retryOf,
    };
    const metadata = { tenantId: item.tenantId, actor: 'test-dispatcher' };
    const runStarted: RunStarted = {
      type: 'RunStarted',
      data: { ...common, lateMs: startedAt.getTime() - Date.parse(item.scheduledFor), attempt: 1 },
    };
    try {
      await this.store.append(streamIds.run(item.runId), [runStarted], { expectedVersion: 0, metadata });
    } catch (error) {
      if (error instanceof ConcurrencyError) return; // a copy of a run already begun
      throw error;
    }
    const finishedAt = this.clock.now();
    const runFinished: RunFinished = {
      type: 'RunFinished',
      data: {
        ...common,
        status: this.failing.has(item.endpointId) ? 'failed' : 'success',
        httpStatus: this.failing.has(item.endpointId) ? 500 : 200,
        durationMs: finishedAt.getTime() - startedAt.getTime(),
        attempts: 1,
        error: null,
        response: null,
        retryAfterMs: null,
        finishedAt: finishedAt.toISOString(),
      },
    };
    await this.store.append(streamIds.run(item.runId), [runFinished], { expectedVersion: 1, metadata });
  }
}

//////////////////////////////////////// A scheduler in its own process

const fixture = join(__dirname, 'fixtures', 'scheduler-process.ts');

/** Starts `fixtures/scheduler-process.ts` (tsx resolves the @cronicorn aliases). */
/** A fold driven by the test, apart from the replicas' consumers. */
export function handFolder(world: SchedulerWorld): ScheduleFolder {
  return new ScheduleFolder({
    writer: new ScheduleWriter(world.store, silentLogger),
    clock: world.clock,
    governor: {},
    horizonMs: 2_000,
    logger: silentLogger,
    wakeDue: () => undefined,
    wakeOutbox: () => undefined,
  });
}

export function spawnScheduler(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: join(__dirname, '..', '..', '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves with the rest of the first stdout line starting with `prefix`. */
export function lineFrom(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => l.startsWith(prefix));
      if (line) resolve(line.slice(prefix.length).trim());
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`scheduler process exited (${code ?? signal}): ${stderr}`)),
    );
  });
}

export function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
