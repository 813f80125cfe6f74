import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { GovernorOptions } from '@cronicorn/domain';
import { backoffMs, errorFields, MessagingLogger, sleep, Wakeup } from '@cronicorn/messaging';
import type { Clock } from '@cronicorn/platform';
import { DispatchOutbox } from '../dispatch/dispatch-outbox';
import { emptyTally, SchedulerMetrics } from '../scheduler.metrics';
import { SchedulerOptions } from '../scheduler.options';
import { fire, HandOut } from '../schedule/schedule.decisions';
import { PreciseTimer } from './precise-timer';
import { lockEndpoint, openRuns, readJob } from '../schedule/schedule.repository';
import { ScheduleWriter } from '../schedule/schedule.writer';

export interface DueLoopDeps {
  pool: Pool;
  clock: Clock;
  writer: ScheduleWriter;
  outbox: Pick<DispatchOutbox, 'publishNow'>;
  options: Pick<
    SchedulerOptions,
    'owner' | 'pollIntervalMs' | 'horizonMs' | 'leaseMs' | 'fireConcurrency' | 'claimBatch' | 'publishClaimMs'
  >;
  governor: Partial<GovernorOptions>;
  logger: MessagingLogger;
  metrics?: SchedulerMetrics;
}

interface Armed {
  runId: string;
  runAt: number;
  timer: PreciseTimer | null;
  attempt: number;
}

/*
 * The due loop, in graphile-worker's split: what is due is decided by the pure `fire`
 * (the governor and `decideDue`); this loop only makes sure each plan is looked at once, at
 * its exact time, by one replica.
 *
 * - Claim: every `pollIntervalMs`, or at once when a fold or a fire stored a plan inside the
 *   horizon, rows with `next_run_at <= now + horizonMs` and no live lease are leased with
 *   `FOR UPDATE SKIP LOCKED` (replicas never wait on each other) and committed.
 * - Timer: each claimed row gets a `PreciseTimer` at its `next_run_at`: never early, even
 *   when the wall clock is stepped; the fire checks the time once more in its transaction.
 * - Fire: one transaction locks the row, checks it is still leased to this replica for the
 *   same `next_run_id` (a fold that changed the plan voided the lease), re-plans, writes the
 *   outcome and releases the lease; the work item is published after the commit.
 *
 * Lease expiry uses the database clock (`clock_timestamp()`), shared by all replicas, so
 * their own clock skew cannot make two of them believe they hold the same row. Plan times
 * use the apps' clock. A replica that dies holding leases delays those runs by up to
 * `leaseMs`; then any replica claims them.
 */
export class DueLoop {
  private readonly wakeup = new Wakeup();
  private readonly abort = new AbortController();
  private readonly armed = new Map<string, Armed>();
  private readonly firing = new Set<Promise<void>>();
  private running: Promise<void> | null = null;
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly deps: DueLoopDeps) {}

  start(): void {
    this.running ??= this.loop();
  }

  wake(): void {
    this.wakeup.wake();
  }

  /** Stops claiming, drops the timers, lets running fires finish and gives the leases back. */
  async stop(): Promise<void> {
    this.abort.abort();
    for (const entry of this.armed.values()) entry.timer?.cancel();
    this.armed.clear();
    await this.running;
    await Promise.all(this.firing);
    await this.deps.pool
      .query('UPDATE scheduler_endpoints SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1', [
        this.deps.options.owner,
      ])
      .catch((error: unknown) => this.deps.logger.warn(errorFields(error), 'could not release leases'));
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const claimed = await this.claim();
        failures = 0;
        // A full batch means more rows are due: claim again at once.
        if (claimed < this.deps.options.claimBatch) {
          await this.wakeup.wait(this.deps.options.pollIntervalMs, this.abort.signal);
        }
      } catch (error) {
        failures += 1;
        this.deps.logger.warn(
          { attempt: failures, ...errorFields(error) },
          'claiming due plans failed; retrying',
        );
        await sleep(backoffMs(failures, 250, 5_000), this.abort.signal);
      }
    }
  }

  /** Leases the rows due within the horizon and arms their timers. */
  async claim(): Promise<number> {
    const { owner, horizonMs, leaseMs, claimBatch } = this.deps.options;
    const now = this.deps.clock.now();
    const { rows } = await this.deps.pool.query<{
      endpoint_id: string;
      next_run_id: string;
      next_run_at: Date;
    }>(
      `WITH due AS (
         SELECT endpoint_id FROM scheduler_endpoints
          WHERE next_run_at <= $1 AND (lease_until IS NULL OR lease_until <= clock_timestamp())
          ORDER BY next_run_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED)
       UPDATE scheduler_endpoints s
          SET lease_owner = $3,
              lease_until = clock_timestamp() + (GREATEST(s.next_run_at, $4::timestamptz) - $4::timestamptz)
                                              + $5 * interval '1 millisecond'
         FROM due
        WHERE s.endpoint_id = due.endpoint_id
       RETURNING s.endpoint_id, s.next_run_id, s.next_run_at`,
      [new Date(now.getTime() + horizonMs), claimBatch, owner, now, leaseMs],
    );
    if (this.stopping) return rows.length;
    for (const row of rows) this.arm(row.endpoint_id, row.next_run_id, row.next_run_at.getTime(), 0);
    return rows.length;
  }

  /** A timer for the row's plan, replacing any older one; `notBefore` delays a retry. */
  private arm(endpointId: string, runId: string, runAt: number, attempt: number, notBefore = 0): void {
    this.armed.get(endpointId)?.timer?.cancel();
    const entry: Armed = { runId, runAt, timer: null, attempt };
    entry.timer = new PreciseTimer(this.deps.clock, Math.max(runAt, notBefore), () =>
      this.onTimer(endpointId, entry),
    );
    this.armed.set(endpointId, entry);
  }

  private onTimer(endpointId: string, entry: Armed): void {
    if (this.stopping || this.armed.get(endpointId) !== entry) return;
    entry.timer = null;
    const task = this.limited(() => this.fire(endpointId, entry))
      .catch((error: unknown) => this.retry(endpointId, entry, error))
      .finally(() => this.firing.delete(task));
    this.firing.add(task);
  }

  /** A failed fire is tried again while the lease is ours (the fire checks it); then the lease lapses. */
  private retry(endpointId: string, entry: Armed, error: unknown): void {
    this.deps.logger.warn(
      { endpointId, runId: entry.runId, ...errorFields(error) },
      'handing out a due run failed',
    );
    if (this.stopping || this.armed.get(endpointId) !== entry) return;
    const notBefore = this.deps.clock.now().getTime() + backoffMs(entry.attempt + 1, 200, 5_000);
    this.arm(endpointId, entry.runId, entry.runAt, entry.attempt + 1, notBefore);
  }

  private async fire(endpointId: string, entry: Armed): Promise<void> {
    // Superseded while waiting for a slot: a newer claim of the row armed another timer.
    if (this.stopping || this.armed.get(endpointId) !== entry) return;
    const { pool, clock, writer, options } = this.deps;
    const tally = emptyTally();
    let handOuts: HandOut[] = [];
    let nextRunAt: number | null = null;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const row = await lockEndpoint(client, endpointId);
      if (!row || row.leaseOwner !== options.owner) {
        await client.query('ROLLBACK');
        this.disarm(endpointId, entry);
        return;
      }
      const now = clock.now();
      const ctx = {
        now,
        job: await readJob(client, row.jobId),
        open: await openRuns(client, endpointId),
        governor: this.deps.governor,
        newId: randomUUID,
      };
      const result = fire(ctx, row, entry.runId);
      if (result.kind === 'early') {
        await client.query('ROLLBACK');
        this.arm(endpointId, entry.runId, result.runAt.getTime(), entry.attempt);
        return;
      }
      if (result.kind === 'stale') {
        await client.query(
          'UPDATE scheduler_endpoints SET lease_owner = NULL, lease_until = NULL WHERE endpoint_id = $1',
          [endpointId],
        );
      } else {
        await writer.apply(
          client,
          result,
          { now, releaseLease: true, claimPublishMs: options.publishClaimMs },
          tally,
        );
        handOuts = result.handOuts;
        nextRunAt = result.row.plan ? Date.parse(result.row.plan.runAt) : null;
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    this.disarm(endpointId, entry);
    this.deps.metrics?.onCommitted?.(tally);
    if (nextRunAt !== null && nextRunAt <= clock.now().getTime() + options.horizonMs) this.wake();
    await this.deps.outbox.publishNow(handOuts);
  }

  private disarm(endpointId: string, entry: Armed): void {
    if (this.armed.get(endpointId) === entry) this.armed.delete(endpointId);
  }

  /** Runs `task` when fewer than `fireConcurrency` fires are running; a finishing one hands its slot on. */
  private async limited(task: () => Promise<void>): Promise<void> {
    if (this.active >= this.deps.options.fireConcurrency) {
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}
