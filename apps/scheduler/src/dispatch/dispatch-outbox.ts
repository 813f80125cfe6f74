import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Pool } from 'pg';
import { DispatchWorkItem, NatsNames, RunTrigger } from '@cronicorn/events';
import { GovernorOptions } from '@cronicorn/domain';
import { backoffMs, errorFields, MessagingLogger, sleep, Wakeup } from '@cronicorn/messaging';
import type { Clock } from '@cronicorn/platform';
import { withTransaction } from '@cronicorn/platform';
import { emptyTally, SchedulerMetrics } from '../scheduler.metrics';
import { SchedulerOptions } from '../scheduler.options';
import { HandOut, replan, runMissed } from '../schedule/schedule.decisions';
import {
  IN_LOG,
  lockEndpoint,
  markMissedRunStartedByLog,
  markRunMissed,
  openRuns,
  readJob,
  releaseQueuedRun,
} from '../schedule/schedule.repository';
import { ScheduleWriter } from '../schedule/schedule.writer';

export interface DispatchOutboxDeps {
  pool: Pool;
  js: JetStreamClient;
  names: NatsNames;
  clock: Clock;
  writer: ScheduleWriter;
  options: Pick<
    SchedulerOptions,
    | 'publishClaimMs'
    | 'republishAfterMs'
    | 'missedAfterMs'
    | 'outboxIntervalMs'
    | 'missedCheckIntervalMs'
    | 'runRetentionMs'
  >;
  governor: Partial<GovernorOptions>;
  logger: MessagingLogger;
  metrics?: SchedulerMetrics;
  /** A missed run freed the endpoint: its next plan may be due now. */
  wakeDue?: () => void;
}

interface ClaimedRun {
  run_id: string;
  trigger: RunTrigger;
  work_item: DispatchWorkItem;
  first: boolean;
}

const PUBLISH_TIMEOUT_MS = 5_000;
const BATCH = 200;
const PRUNE_EVERY_MS = 60_000;

/**
 * Gets work items from `scheduler_runs` onto the dispatch stream, `Nats-Msg-Id` = runId:
 *
 * - The replica that hands a run out records it as published in the hand-out's transaction
 *   and publishes it right after the commit (`publishNow`): NATS stays out of the
 *   transaction and a publish costs no second write. A failed publish is un-recorded and
 *   retried by the first-publish pass; a crash between the commit and the publish leaves a
 *   run recorded as published that nobody starts, and the republish rule below publishes it.
 * - A run dispatched but not started (by the log) `republishAfterMs` after its last publish is
 *   published again, in case the message was lost; within the stream's duplicate window
 *   JetStream drops the copy, past it the dispatcher finds the run stream already begun.
 * - A run not started within `missedAfterMs` of being handed out gets `RunMissed` (once: the
 *   state change and the event share a transaction under the endpoint's row lock) and stops
 *   counting as in flight, so the endpoint plans on instead of stalling behind it.
 */
export class DispatchOutbox {
  private readonly wakeup = new Wakeup();
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private prunedAt = 0;

  constructor(private readonly deps: DispatchOutboxDeps) {}

  start(): void {
    if (this.loops.length) return;
    this.loops = [
      this.loop(
        'dispatch outbox',
        () => this.publishPending(),
        (signal) => this.wakeup.wait(this.deps.options.outboxIntervalMs, signal),
      ),
      this.loop(
        'missed-run check',
        () => this.checkMissed(),
        (signal) => sleep(this.deps.options.missedCheckIntervalMs, signal),
      ),
    ];
  }

  wake(): void {
    this.wakeup.wake();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  /**
   * Publishes runs this replica just handed out (recorded as published by the hand-out). A
   * failed publish is un-recorded, so the first-publish pass retries it soon; should that
   * fail too, the republish rule publishes the run.
   */
  async publishNow(handOuts: readonly HandOut[]): Promise<void> {
    const runs = handOuts
      .filter((h) => h.state === 'dispatched')
      .map((h) => ({ run_id: h.runId, trigger: h.trigger, work_item: h.workItem, first: true }));
    const failed = (await this.publishEach(runs))
      .filter((r) => r.published === null)
      .map((r) => r.run.run_id);
    if (failed.length === 0) return;
    try {
      await this.deps.pool.query(
        `UPDATE scheduler_runs r SET published_at = NULL, publish_count = r.publish_count - 1
           FROM (SELECT run_id FROM scheduler_runs
                  WHERE run_id = ANY($1::uuid[]) AND state = 'dispatched'
                    AND publish_count = 1 AND publish_claimed_until IS NULL
                  FOR UPDATE SKIP LOCKED) mine
          WHERE r.run_id = mine.run_id`,
        [failed],
      );
      this.wake();
    } catch (error) {
      this.deps.logger.warn(
        { runs: failed.length, ...errorFields(error) },
        'could not un-record failed publishes',
      );
    }
  }

  private async loop(
    what: string,
    step: () => Promise<unknown>,
    pause: (signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        await step();
        failures = 0;
        await pause(signal);
      } catch (error) {
        failures += 1;
        this.deps.logger.warn(
          { what, attempt: failures, ...errorFields(error) },
          'scheduler step failed; retrying',
        );
        await sleep(backoffMs(failures, 250, 10_000), signal);
      }
    }
  }

  //////////////////////////////////////// Publishing

  private async publishPending(): Promise<void> {
    await this.markStartedByLog();
    await this.claimAndPublish(
      // Handed out, not yet published: the replica that handed them out crashed or failed to publish.
      `SELECT run_id FROM scheduler_runs
        WHERE state = 'dispatched' AND published_at IS NULL
          AND (publish_claimed_until IS NULL OR publish_claimed_until <= clock_timestamp())
        ORDER BY dispatched_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED`,
    );
    await this.claimAndPublish(
      // Published a while ago and still not started by the log: the message may be lost.
      `SELECT run_id FROM scheduler_runs s
        WHERE state = 'dispatched' AND published_at <= now() - $3 * interval '1 millisecond'
          AND (publish_claimed_until IS NULL OR publish_claimed_until <= clock_timestamp())
          AND NOT ${IN_LOG('s.run_id', 'RunStarted')}
        ORDER BY published_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED`,
      [this.deps.options.republishAfterMs],
    );
  }

  /**
   * Claims the runs `due` selects, a batch at a time, and publishes them. `due` takes the
   * batch size as $2, then `dueParams`. Each query reads its own partial index (migration
   * 0033): one query over every dispatched run walked those published in the last
   * `republishAfterMs` at each pass.
   */
  private async claimAndPublish(due: string, dueParams: unknown[] = []): Promise<void> {
    for (;;) {
      const { rows } = await this.deps.pool.query<ClaimedRun>(
        `UPDATE scheduler_runs r SET publish_claimed_until = clock_timestamp() + $1 * interval '1 millisecond'
           FROM (${due}) due
          WHERE r.run_id = due.run_id
          RETURNING r.run_id, r.trigger, r.work_item, r.published_at IS NULL AS first`,
        [this.deps.options.publishClaimMs, BATCH, ...dueParams],
      );
      if (rows.length === 0 || this.abort.signal.aborted) return;
      const republished = rows.filter((r) => !r.first).length;
      if (republished > 0) this.deps.logger.info({ runs: republished }, 'republishing runs not started yet');
      await this.publishAll(rows);
      if (rows.length < BATCH) return;
    }
  }

  /**
   * Runs due for a republish whose `RunStarted` is in the log are marked started (the fold
   * leaves a run that started in time `dispatched` until it finishes): they would otherwise be
   * looked up in the log again at every pass. Rows the fold holds are skipped.
   */
  private async markStartedByLog(): Promise<void> {
    for (;;) {
      const { rowCount } = await this.deps.pool.query(
        `UPDATE scheduler_runs r SET state = 'started', started_at = first_start.started_at
           FROM (SELECT s.run_id FROM scheduler_runs s
                  WHERE s.state = 'dispatched'
                    AND s.published_at <= now() - $1 * interval '1 millisecond'
                    AND ${IN_LOG('s.run_id', 'RunStarted')}
                  ORDER BY s.published_at
                  LIMIT $2
                  FOR UPDATE SKIP LOCKED) due,
                LATERAL (SELECT (e.data->>'startedAt')::timestamptz AS started_at FROM events e
                          WHERE e.stream_id = 'run-' || due.run_id AND e.type = 'RunStarted'
                          ORDER BY e.stream_version LIMIT 1) first_start
          WHERE r.run_id = due.run_id`,
        [this.deps.options.republishAfterMs, BATCH],
      );
      if ((rowCount ?? 0) < BATCH || this.abort.signal.aborted) return;
    }
  }

  private async publishEach(runs: readonly ClaimedRun[]) {
    return Promise.all(runs.map(async (run) => ({ run, published: await this.publish(run) })));
  }

  /** Publishes claimed runs and records the published ones in one statement; failures are left to the outbox. */
  private async publishAll(runs: readonly ClaimedRun[]): Promise<void> {
    if (runs.length === 0) return;
    const published = (await this.publishEach(runs))
      .map((r) => r.published)
      .filter((runId): runId is string => runId !== null);
    if (published.length === 0) return;
    try {
      await this.deps.pool.query(
        // A row the fold holds (marking the run finished) is skipped rather than waited for: a
        // finished run is never republished, and waiting could deadlock with the fold's batch.
        `UPDATE scheduler_runs r
            SET published_at = clock_timestamp(), publish_count = publish_count + 1, publish_claimed_until = NULL
           FROM (SELECT run_id FROM scheduler_runs WHERE run_id = ANY($1::uuid[]) FOR UPDATE SKIP LOCKED) mine
          WHERE r.run_id = mine.run_id`,
        [published],
      );
    } catch (error) {
      // JetStream has them; unrecorded, they are published again later and dropped as duplicates.
      this.deps.logger.warn({ runs: published.length, ...errorFields(error) }, 'could not record publishes');
    }
  }

  /** One publish; returns the run id, or null when it failed (the claim lapses, then the outbox retries). */
  private async publish(run: ClaimedRun): Promise<string | null> {
    const item = run.work_item;
    try {
      const ack = await this.deps.js.publish(
        this.deps.names.dispatchSubject(item.tenantId, item.endpointId),
        JSON.stringify(item),
        { msgID: item.runId, timeout: PUBLISH_TIMEOUT_MS },
      );
      const lateness = run.first ? this.deps.clock.now().getTime() - Date.parse(item.scheduledFor) : null;
      this.deps.metrics?.onPublished?.(run.trigger, lateness, ack.duplicate);
      return item.runId;
    } catch (error) {
      this.deps.metrics?.onPublishFailed?.();
      this.deps.logger.warn(
        { runId: item.runId, ...errorFields(error) },
        'work item publish failed; will retry',
      );
      return null;
    }
  }

  //////////////////////////////////////// Missed runs

  private async checkMissed(): Promise<void> {
    const { missedAfterMs, runRetentionMs } = this.deps.options;
    const now = this.deps.clock.now();
    const { rows } = await this.deps.pool.query<{ run_id: string; endpoint_id: string }>(
      // Runs whose RunStarted the fold has not reached yet are not candidates.
      `SELECT r.run_id, r.endpoint_id FROM scheduler_runs r
        WHERE r.state = 'dispatched' AND r.dispatched_at <= $1
          AND NOT ${IN_LOG('r.run_id', 'RunStarted')}
        ORDER BY r.dispatched_at LIMIT $2`,
      [new Date(now.getTime() - missedAfterMs), BATCH],
    );
    for (const row of rows) {
      if (this.abort.signal.aborted) return;
      await this.missRun(row.run_id, row.endpoint_id);
    }
    if (Date.now() - this.prunedAt >= PRUNE_EVERY_MS) {
      await this.deps.pool.query(
        `DELETE FROM scheduler_runs
          WHERE state IN ('finished', 'missed') AND created_at < clock_timestamp() - $1 * interval '1 millisecond'`,
        [runRetentionMs],
      );
      this.prunedAt = Date.now();
    }
  }

  private async missRun(runId: string, endpointId: string): Promise<void> {
    const tally = emptyTally();
    let released = false;
    let markedMissed = false;
    await withTransaction(this.deps.pool, async (client) => {
      const row = await lockEndpoint(client, endpointId);
      const { rows } = await client.query<{ scheduled_for: Date }>(
        'SELECT scheduled_for FROM scheduler_runs WHERE run_id = $1',
        [runId],
      );
      if (!row || rows.length === 0) return;
      const now = this.deps.clock.now();
      if (!(await markRunMissed(client, runId, now))) return;
      markedMissed = true;
      released = (await releaseQueuedRun(client, endpointId, now)) !== null;
      const ctx = {
        now,
        job: await readJob(client, row.jobId),
        open: await openRuns(client, endpointId),
        governor: this.deps.governor,
        newId: randomUUID,
      };
      const missed = runMissed(
        row,
        { runId, scheduledFor: rows[0].scheduled_for.toISOString() },
        this.deps.options.missedAfterMs,
        now,
      );
      await this.deps.writer.apply(
        client,
        replan(ctx, row),
        {
          now,
          releaseLease: false,
          publishedByCaller: false,
          prepend: [missed],
          cause: { correlationId: runId },
        },
        tally,
      );
      this.deps.logger.warn({ endpointId, runId, budgetMs: this.deps.options.missedAfterMs }, 'run missed');
    });
    this.deps.metrics?.onCommitted?.(tally);
    // A RunStarted whose transaction began before this one's may have been folded while it
    // ran, by a fold that saw the run still dispatched: it would stay missed while it runs.
    if (markedMissed) {
      await markMissedRunStartedByLog(this.deps.pool, runId).catch((error: unknown) =>
        this.deps.logger.warn({ runId, ...errorFields(error) }, 'could not look for a start of a missed run'),
      );
    }
    if (released) this.wake();
    this.deps.wakeDue?.();
  }
}
