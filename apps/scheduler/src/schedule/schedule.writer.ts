import type { PoolClient } from 'pg';
import { EndpointEvent, EventMetadata, ScheduleEvent, streamIds } from '@cronicorn/events';
import { DomainError, endpointDecider, fold } from '@cronicorn/domain';
import { EventStore } from '@cronicorn/event-store';
import { MessagingLogger } from '@cronicorn/messaging';
import { Tally } from '../scheduler.metrics';
import { dropQueuedRuns, Outcome } from './schedule.decisions';
import { EndpointRow } from './schedule.model';
import { deleteQueuedRuns, insertRuns, saveEndpoints } from './schedule.repository';

export interface Cause {
  correlationId?: string;
  causationId?: string;
}

export interface ApplyOptions {
  now: Date;
  /** Drop the row's lease even if the plan did not change (the holder is done with it). */
  releaseLease: boolean;
  /** The caller publishes the runs handed out right after the commit (see `insertRuns`). */
  publishedByCaller: boolean;
  cause?: Cause;
  /** Schedule events that come before the outcome's own (a RunMissed). */
  prepend?: readonly ScheduleEvent[];
}

/**
 * Writes an outcome in the caller's transaction: the row, the runs handed out, the schedule
 * events (same transaction, so the table and the `schedule-<endpointId>` stream never disagree)
 * and, when `pauseAfterFailures` was reached, the endpoint's pause through its decider.
 */
export class ScheduleWriter {
  constructor(
    private readonly store: Pick<EventStore, 'append' | 'appendMany' | 'readStream'>,
    private readonly logger: MessagingLogger,
  ) {}

  async apply(client: PoolClient, outcome: Outcome, options: ApplyOptions, tally: Tally): Promise<void> {
    await this.applyAll(client, [{ outcome, options }], tally);
  }

  /**
   * Several outcomes of different endpoints in one go: one update for their rows, one insert for
   * all their runs and one append for all their schedule events. The runs are recorded with
   * the first write's `now` and `publishedByCaller`.
   */
  async applyAll(
    client: PoolClient,
    given: ReadonlyArray<{ outcome: Outcome; options: ApplyOptions }>,
    tally: Tally,
  ): Promise<void> {
    if (given.length === 0) return;
    const writes: Array<{ outcome: Outcome; options: ApplyOptions }> = [];
    for (const { outcome, options } of given) {
      const dropped = outcome.dropQueued ? await deleteQueuedRuns(client, outcome.row.endpointId) : [];
      writes.push({ outcome: dropQueuedRuns(outcome, dropped, options.now), options });
    }
    await saveEndpoints(
      client,
      writes.map(({ outcome, options }) => ({
        row: outcome.row,
        releaseLease: options.releaseLease || outcome.planChanged,
      })),
    );
    const [{ options: first }] = writes;
    await insertRuns(
      client,
      writes.flatMap((w) => w.outcome.handOuts),
      first.now,
      first.publishedByCaller,
    );
    const appends = writes
      .map(({ outcome, options }) => ({
        streamId: streamIds.schedule(outcome.row.endpointId),
        events: [...(options.prepend ?? []), ...outcome.events],
        expectedVersion: 'any' as const,
        metadata: metadataOf(outcome.row, options.cause),
        occurredAt: options.now,
      }))
      .filter((append) => append.events.length > 0);
    if (appends.length > 0) await this.store.appendMany(appends, { client });
    for (const { events } of appends) countInto(tally, events);
    for (const { outcome, options } of writes) {
      if (outcome.pauseForFailures)
        await this.pauseForFailures(client, outcome.row, options.now, metadataOf(outcome.row, options.cause));
    }
  }

  /**
   * `PauseEndpointForFailures` through the endpoint decider, appended with the version just
   * read: a concurrent command makes the append fail, the transaction roll back and the
   * consumer (or loop) try again. The decider does nothing when a pause is already in force.
   */
  private async pauseForFailures(client: PoolClient, row: EndpointRow, now: Date, metadata: EventMetadata) {
    const streamId = streamIds.endpoint(row.endpointId);
    const stored = await this.store.readStream(streamId);
    const state = fold(
      endpointDecider,
      stored.map((e) => ({ type: e.type, data: e.data }) as EndpointEvent),
    );
    let decided: EndpointEvent[];
    try {
      decided = endpointDecider.decide(
        {
          type: 'PauseEndpointForFailures',
          data: {
            endpointId: row.endpointId,
            until: null,
            reason: `${row.streak.count} consecutive failures (pauseAfterFailures ${row.config.pauseAfterFailures})`,
          },
          metadata: { now },
        },
        state,
      );
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      this.logger.warn({ endpointId: row.endpointId, code: error.code }, 'not pausing after failures');
      return;
    }
    if (decided.length === 0) return;
    await this.store.append(streamId, decided, {
      expectedVersion: stored.at(-1)?.streamVersion ?? 0,
      client,
      metadata,
      occurredAt: now,
    });
    this.logger.info(
      { endpointId: row.endpointId, failures: row.streak.count },
      'endpoint paused after failures',
    );
  }
}

function countInto(tally: Tally, events: readonly ScheduleEvent[]): void {
  for (const event of events) {
    if (event.type === 'NextRunPlanned') tally.planned += 1;
    else if (event.type === 'RunSkipped') {
      tally.skipped[event.data.policy] += event.data.count;
    } else tally.missed += 1;
  }
}

function metadataOf(row: EndpointRow, cause: Cause | undefined): EventMetadata {
  return {
    tenantId: row.tenantId,
    actor: 'scheduler',
    ...(cause?.correlationId ? { correlationId: cause.correlationId } : {}),
    ...(cause?.causationId ? { causationId: cause.causationId } : {}),
  };
}
