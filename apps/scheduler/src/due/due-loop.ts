import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { GovernorOptions } from '@cronicorn/domain';
import { beginStatement } from '@cronicorn/event-store';
import { backoffMs, errorFields, inLockOrder, MessagingLogger, sleep, Wakeup } from '@cronicorn/messaging';
import type { Clock } from '@cronicorn/platform';
import { withTransaction } from '@cronicorn/platform';
import { DispatchOutbox } from '../dispatch/dispatch-outbox';
import { emptyTally, SchedulerMetrics } from '../scheduler.metrics';
import { SchedulerOptions } from '../scheduler.options';
import { fire, HandOut, Outcome } from '../schedule/schedule.decisions';
import { PreciseTimer } from './precise-timer';
import {
  LockedEndpoint,
  lockEndpoint,
  lockEndpoints,
  openRunsOf,
  readJobs,
  releaseQueuedRun,
} from '../schedule/schedule.repository';
import { JobRow, OpenRuns } from '../schedule/schedule.model';
import { ApplyOptions, ScheduleWriter } from '../schedule/schedule.writer';

export interface DueLoopDeps {
  pool: Pool;
  clock: Clock;
  writer: ScheduleWriter;
  outbox: Pick<DispatchOutbox, 'publishNow' | 'wake'>;
  options: Pick<
    SchedulerOptions,
    'owner' | 'pollIntervalMs' | 'horizonMs' | 'leaseMs' | 'fireConcurrency' | 'fireBatch' | 'claimBatch'
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

interface Due {
  endpointId: string;
  entry: Armed;
}

/** What firing one row came to; applied after the group's commit. */
type Write = { outcome: Outcome; options: ApplyOptions };

type FireStep = (
  | { kind: 'lost' | 'stale' }
  | { kind: 'early'; runAt: number }
  | { kind: 'fired'; handOuts: HandOut[]; nextRunAt: number | null }
) & { releasedQueuedRun?: boolean };

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
 * - Fire: a transaction locks the row, checks it is still leased to this replica for the
 *   same `next_run_id` (a fold that changed the plan voided the lease), re-plans, writes the
 *   outcome and releases the lease; the work item is published after the commit. Plans that
 *   come due while other fires run share the next transaction (group commit).
 *
 * Lease expiry uses the database clock (`clock_timestamp()`, `statement_timestamp()` where an
 * index must bound it), shared by all replicas, so their own clock skew cannot make two of
 * them believe they hold the same row. Plan times use the apps' clock. A replica that dies
 * holding leases delays those runs by up to `leaseMs`; then any replica claims them.
 */
export class DueLoop {
  private readonly wakeup = new Wakeup();
  private readonly abort = new AbortController();
  private readonly armed = new Map<string, Armed>();
  private readonly firing = new Set<Promise<void>>();
  private running: Promise<void> | null = null;
  private active = 0;
  private readonly ready: Due[] = [];

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
      // In the byte order fires and fold batches lock in; rows busy elsewhere keep their lease until it lapses.
      .query(
        `UPDATE scheduler_endpoints e SET lease_owner = NULL, lease_until = NULL
           FROM (SELECT endpoint_id FROM scheduler_endpoints WHERE lease_owner = $1
                  ORDER BY endpoint_id COLLATE "C" FOR UPDATE SKIP LOCKED) mine
          WHERE e.endpoint_id = mine.endpoint_id AND e.lease_owner = $1`,
        [this.deps.options.owner],
      )
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
    }>({
      name: 'scheduler.claim-due',
      // Free rows and lapsed leases each read their own index (migration 0035).
      text: `WITH free AS (
         SELECT endpoint_id FROM scheduler_endpoints
          WHERE lease_owner IS NULL AND next_run_at <= $1
          ORDER BY next_run_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED),
       lapsed AS (
         SELECT endpoint_id FROM scheduler_endpoints
          WHERE lease_owner IS NOT NULL AND lease_until <= statement_timestamp() AND next_run_at <= $1
          ORDER BY lease_until
          LIMIT $2
          FOR UPDATE SKIP LOCKED),
       due AS (SELECT endpoint_id FROM free UNION ALL SELECT endpoint_id FROM lapsed)
       UPDATE scheduler_endpoints s
          SET lease_owner = $3,
              lease_until = clock_timestamp() + (GREATEST(s.next_run_at, $4::timestamptz) - $4::timestamptz)
                                              + $5 * interval '1 millisecond'
         FROM due
        WHERE s.endpoint_id = due.endpoint_id
       RETURNING s.endpoint_id, s.next_run_id, s.next_run_at`,
      values: [new Date(now.getTime() + horizonMs), claimBatch, owner, now, leaseMs],
    });
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
    this.ready.push({ endpointId, entry });
    this.pump();
  }

  /**
   * Group commit: up to `fireConcurrency` transactions at once, each handing out every plan
   * that came due while the previous ones ran (at most `fireBatch`). When idle a plan is handed
   * out alone, at once; under load one commit serves many.
   */
  private pump(): void {
    while (this.active < this.deps.options.fireConcurrency && this.ready.length > 0) {
      const group = this.ready.splice(0, Math.max(1, this.deps.options.fireBatch));
      this.active += 1;
      const task = this.fireGroup(group).finally(() => {
        this.active -= 1;
        this.firing.delete(task);
        this.pump();
      });
      this.firing.add(task);
    }
  }

  /** One transaction for the group; when it fails, one per plan, so that only the culprit is retried. */
  private async fireGroup(group: Due[]): Promise<void> {
    try {
      return await this.fire(group);
    } catch (error) {
      if (group.length === 1) return this.retry(group[0].endpointId, group[0].entry, error);
    }
    for (const due of group) {
      await this.fire([due]).catch((error: unknown) => this.retry(due.endpointId, due.entry, error));
    }
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

  private async fire(group: Due[]): Promise<void> {
    // Superseded while waiting: a newer claim of the row armed another timer.
    const current = group
      .filter((due) => this.armed.get(due.endpointId) === due.entry)
      .sort((a, b) => inLockOrder(a.endpointId, b.endpointId));
    if (this.stopping || current.length === 0) return;
    const { pool, clock, options } = this.deps;
    const tally = emptyTally();
    const steps: Array<{ due: Due; step: FireStep }> = [];
    const writes: Write[] = [];
    const client = await pool.connect();
    try {
      // Every statement of a fire looks rows up by key: a generic plan serves them all, where
      // Postgres would otherwise plan most of them again at every fire (custom plans for the
      // few ids of a group look cheaper).
      await client.query(beginStatement({ genericPlans: true }));
      const ids = current.map((due) => due.endpointId);
      const rows = await lockEndpoints(client, ids);
      const now = clock.now();
      const open = await openRunsOf(client, ids);
      const jobs = await readJobs(
        client,
        [...rows.values()].map((row) => row.jobId),
      );
      for (const due of current) {
        const row = rows.get(due.endpointId);
        const inputs = {
          row,
          open: open.get(due.endpointId)!,
          job: row ? (jobs.get(row.jobId) ?? null) : null,
          now,
        };
        steps.push({ due, step: await this.fireOne(client, due, inputs, writes) });
      }
      await this.deps.writer.applyAll(client, writes, tally);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    // The runs are recorded as published: nothing after the commit may keep them from it.
    const publishing = this.deps.outbox.publishNow(
      steps.flatMap(({ step }) => (step.kind === 'fired' ? step.handOuts : [])),
    );
    try {
      this.deps.metrics?.onCommitted?.(tally);
      for (const { due, step } of steps) {
        if (step.kind === 'early') this.arm(due.endpointId, due.entry.runId, step.runAt, due.entry.attempt);
        else this.disarm(due.endpointId, due.entry);
      }
      const horizonEnd = clock.now().getTime() + options.horizonMs;
      if (
        steps.some(
          ({ step }) => step.kind === 'fired' && step.nextRunAt !== null && step.nextRunAt <= horizonEnd,
        )
      )
        this.wake();
      const queuedOn = steps
        .filter(({ step }) => step.kind === 'fired' && step.handOuts.some((h) => h.state === 'queued'))
        .map(({ due }) => due.endpointId);
      const releasedNow = queuedOn.length > 0 && (await this.releaseQueuedRuns(queuedOn));
      if (releasedNow || steps.some(({ step }) => step.releasedQueuedRun)) this.deps.outbox.wake();
    } finally {
      await publishing;
    }
  }

  /** Checks the lease and the plan of a locked row, and adds what `fire` decides to `writes`. */
  private async fireOne(
    client: PoolClient,
    due: Due,
    inputs: { row: LockedEndpoint | undefined; open: OpenRuns; job: JobRow | null; now: Date },
    writes: Write[],
  ): Promise<FireStep> {
    const { endpointId, entry } = due;
    const { row, job, now } = inputs;
    if (!row || row.leaseOwner !== this.deps.options.owner) return { kind: 'lost' };
    let open = inputs.open;
    let released = false;
    if (open.queued && !open.inFlight) {
      // The run in flight has finished by the log, but the fold has not released the queued
      // one yet: it goes first.
      released = (await releaseQueuedRun(client, endpointId, now)) !== null;
      if (released) open = { inFlight: true, queued: false };
    }
    const result = fire(
      { now, job, open, governor: this.deps.governor, newId: randomUUID },
      row,
      entry.runId,
    );
    if (result.kind === 'early')
      return { kind: 'early', runAt: result.runAt.getTime(), releasedQueuedRun: released };
    if (result.kind === 'stale') {
      await client.query(
        'UPDATE scheduler_endpoints SET lease_owner = NULL, lease_until = NULL WHERE endpoint_id = $1',
        [endpointId],
      );
      return { kind: 'stale', releasedQueuedRun: released };
    }
    writes.push({
      outcome: result,
      options: { now, releaseLease: true, publishedByCaller: true },
    });
    return {
      kind: 'fired',
      handOuts: result.handOuts,
      nextRunAt: result.row.plan ? Date.parse(result.row.plan.runAt) : null,
      releasedQueuedRun: released,
    };
  }

  /**
   * Runs this fire just queued behind a run in flight are released, each in its own transaction,
   * when that run has finished by the log since. A `RunFinished` committed while the fire ran
   * may be folded before the fire commits (its transaction began before the fire's, so the
   * log's readers do not wait for the fire); that fold saw no run queued and released none,
   * and nothing else would release it before the endpoint's next fire. Returns whether any was.
   */
  private async releaseQueuedRuns(endpointIds: readonly string[]): Promise<boolean> {
    let released = false;
    for (const endpointId of endpointIds) {
      await withTransaction(this.deps.pool, async (client) => {
        if (!(await lockEndpoint(client, endpointId))) return;
        if ((await releaseQueuedRun(client, endpointId, this.deps.clock.now())) !== null) released = true;
      }).catch((error: unknown) =>
        // Left to the endpoint's next fire.
        this.deps.logger.warn({ endpointId, ...errorFields(error) }, 'could not release a queued run'),
      );
    }
    return released;
  }

  private disarm(endpointId: string, entry: Armed): void {
    if (this.armed.get(endpointId) === entry) this.armed.delete(endpointId);
  }
}
