import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import {
  EndpointEvent,
  EndpointEventTypes,
  EventEnvelope,
  JobEvent,
  JobEventTypes,
  parseStreamId,
  RunEvent,
  RunEventTypes,
  RunFinished,
  RunStarted,
} from '@cronicorn/events';
import { GovernorOptions } from '@cronicorn/domain';
import { MessagingLogger } from '@cronicorn/messaging';
import type { Clock } from '@cronicorn/platform';
import { emptyTally, SchedulerMetrics, Tally } from '../scheduler.metrics';
import { Outcome, PlanContext, replan, requestRun } from '../schedule/schedule.decisions';
import {
  applyEndpointEvent,
  applyJobEvent,
  applyRunFinished,
  applyRunStarted,
  changesResult,
  createdRow,
  EndpointResult,
  EndpointRow,
  finishLeavesPlan,
  JobRow,
  recordResult,
} from '../schedule/schedule.model';
import {
  insertEndpoint,
  lockEndpoint,
  lockEndpointsOfJob,
  lockJob,
  lockResult,
  markRunsFinished,
  markMissedRunsStarted,
  openRuns,
  readEndpoints,
  readJob,
  runsStartedChangingNothing,
  releaseQueuedRun,
  saveJob,
  saveResult,
  saveResults,
  UnlockedEndpoint,
} from '../schedule/schedule.repository';
import { Cause, ScheduleWriter } from '../schedule/schedule.writer';

export interface ScheduleFolderDeps {
  writer: ScheduleWriter;
  clock: Clock;
  governor: Partial<GovernorOptions>;
  horizonMs: number;
  logger: MessagingLogger;
  metrics?: SchedulerMetrics;
  /** A plan now falls within the due loop's horizon: claim it without waiting for the poll. */
  wakeDue: () => void;
  /** A run was handed out (manual, or released from the queue): publish it now. */
  wakeOutbox: () => void;
}

/** What to do once the event's transaction has committed. */
interface AfterCommit {
  tally: Tally;
  wakeDue: boolean;
  wakeOutbox: boolean;
}

const PENDING_LIMIT = 10_000;

/**
 * The scheduler's event handler: folds endpoint, job and run events into the schedule table
 * and re-plans the endpoints they touch, inside the event consumer's transaction (which also
 * records the stream version it handled, so a redelivery changes nothing).
 */
export class ScheduleFolder {
  private readonly pending = new Map<string, AfterCommit>();

  constructor(private readonly deps: ScheduleFolderDeps) {}

  /**
   * The consumer's batch handler. The batch's runs are marked finished (and missed ones that
   * started after all, started) first, a statement each; the `RunStarted` that change nothing
   * (most of them) are found in one read, and the rows the finishes need in another. Then each
   * other event is folded in order.
   */
  readonly handleBatch = async (envelopes: readonly EventEnvelope[], client: PoolClient): Promise<void> => {
    const runEvents = envelopes.filter(
      (e): e is EventEnvelope<RunEvent> =>
        parseStreamId(e.streamId).category === 'run' && isOneOf<RunEvent>(e, RunEventTypes),
    );
    const startedEvents = runEvents.filter((e) => e.type === 'RunStarted');
    const started = startedEvents.map((e) => e.data as RunStarted['data']);
    const finished = runEvents
      .filter((e) => e.type === 'RunFinished')
      .map((e) => e.data as RunFinished['data']);
    // A batch redone after a failure must not report what the failed attempt planned.
    for (const envelope of envelopes) this.pending.delete(envelope.id);
    await markMissedRunsStarted(client, started);
    await markRunsFinished(client, finished);
    // The usual RunStarted: no lock on the row, so a fire waiting for it is not held up.
    const changingNothing = await runsStartedChangingNothing(client, started);
    const unchanged = new Set([...changingNothing].map((i) => startedEvents[i].id));
    // An endpoint with an event in this batch that takes its row's lock folds all its finishes
    // under that lock: a finish folded without it first would lock the result row before the
    // endpoint row, the order other transactions take them in reverse.
    const locking = new Set([
      ...finished.filter((f) => f.status !== 'success').map((f) => f.endpointId),
      ...started.filter((_, i) => !changingNothing.has(i)).map((s) => s.endpointId),
    ]);
    // Read once for the finishes folded without the lock; kept up to date with this batch.
    const rows = await readEndpoints(client, [
      ...new Set(finished.map((f) => f.endpointId).filter((id) => !locking.has(id))),
    ]);
    // Likewise an endpoint with a finish that will need the lock after one folded without it:
    // the first would hold the result row while the second waits for the endpoint's. Once a
    // finish is written without the lock the batch holds the result row, so the next write of
    // that endpoint cannot find it changed and fall back to the lock either.
    for (const id of needingTheLock(finished, rows)) locking.add(id);
    // The usual finishes of endpoints with nothing else in the batch are written together,
    // flushed before the next endpoint that may lock: the batch is in endpoint order, so rows
    // are still locked in that order. One that another transaction changed first is folded
    // under the lock instead.
    const atOnce = finishesToFoldAtOnce(envelopes, unchanged, locking, rows);
    let pending: AtOnce[] = [];
    const queued = new Set<AtOnce>();
    const flush = async () => {
      if (pending.length === 0) return;
      const saved = await saveResults(client, pending);
      const failed = pending.filter((write) => !saved.has(write.endpointId));
      pending = [];
      for (const { endpointId, events } of failed) {
        rows.delete(endpointId);
        for (const event of events) await this.handleOne(event, client);
      }
    };
    for (const envelope of envelopes) {
      if (unchanged.has(envelope.id)) continue;
      const { endpointId } = envelope.data as { endpointId?: string };
      const write = endpointId ? atOnce.get(endpointId) : undefined;
      if (write) {
        if (!queued.has(write)) {
          queued.add(write);
          pending.push(write);
        }
        continue;
      }
      await flush();
      if (envelope.type === 'RunFinished' && endpointId && !locking.has(endpointId)) {
        const row = rows.get(endpointId) ?? (await readEndpoints(client, [endpointId])).get(endpointId);
        const folded = row && (await foldedWithoutLock(client, row, envelope.data as RunFinished['data']));
        if (folded) {
          rows.set(endpointId, folded);
          continue;
        }
      }
      // Folded under the lock, the row may change: read it again when needed.
      if (parseStreamId(envelope.streamId).category === 'job') rows.clear();
      else if (endpointId) rows.delete(endpointId);
      await this.handleOne(envelope, client);
    }
    await flush();
  };

  private async handleOne(envelope: EventEnvelope, client: PoolClient): Promise<void> {
    const after: AfterCommit = { tally: emptyTally(), wakeDue: false, wakeOutbox: false };
    const { category } = parseStreamId(envelope.streamId);
    if (category === 'endpoint' && isOneOf<EndpointEvent>(envelope, EndpointEventTypes)) {
      await this.onEndpointEvent(envelope, client, after);
    } else if (category === 'job' && isOneOf<JobEvent>(envelope, JobEventTypes)) {
      await this.onJobEvent(envelope, client, after);
    } else if (category === 'run' && isOneOf<RunEvent>(envelope, RunEventTypes)) {
      await this.onRunEvent(envelope, client, after);
    } else {
      return;
    }
    if (this.pending.size >= PENDING_LIMIT) this.pending.clear();
    this.pending.set(envelope.id, after);
  }

  /** Called by the consumer after the event's transaction committed. */
  committed(envelope: EventEnvelope): void {
    const after = this.pending.get(envelope.id);
    if (!after) return;
    this.pending.delete(envelope.id);
    this.deps.metrics?.onCommitted?.(after.tally);
    if (after.wakeDue) this.deps.wakeDue();
    if (after.wakeOutbox) this.deps.wakeOutbox();
  }

  //////////////////////////////////////// Endpoint events

  private async onEndpointEvent(
    envelope: EventEnvelope<EndpointEvent>,
    client: PoolClient,
    after: AfterCommit,
  ): Promise<void> {
    const event = eventOf(envelope);
    const now = this.deps.clock.now();
    if (event.type === 'EndpointCreated') {
      // The job row is locked first (shared) so that a job pause folding at the same moment
      // either sees this endpoint or is seen by it.
      const job = await lockJob(client, event.data.jobId, envelope.tenantId, 'share');
      await insertEndpoint(client, createdRow(envelope.tenantId, event.data));
      const row = await lockEndpoint(client, event.data.endpointId);
      if (!row) return;
      const outcome = replan(this.context(now, job, await openRuns(client, row.endpointId)), row);
      return this.write(client, outcome, now, envelope, after);
    }
    const locked = await lockEndpoint(client, event.data.endpointId);
    if (!locked) {
      this.deps.logger.warn(
        { endpointId: event.data.endpointId, type: event.type },
        'event for an unknown endpoint',
      );
      return;
    }
    const ctx = this.context(
      now,
      await readJob(client, locked.jobId),
      await openRuns(client, locked.endpointId),
    );
    let outcome: Outcome;
    if (event.type === 'RunRequested') {
      outcome = requestRun(ctx, locked, event.data, envelope.metadata.correlationId ?? null);
    } else if (changesResult(event)) {
      outcome = replan(ctx, await foldResult(client, locked, (row) => applyEndpointEvent(row, event)));
    } else {
      outcome = replan(ctx, applyEndpointEvent(locked, event));
    }
    await this.write(client, outcome, now, envelope, after);
  }

  //////////////////////////////////////// Job events

  private async onJobEvent(
    envelope: EventEnvelope<JobEvent>,
    client: PoolClient,
    after: AfterCommit,
  ): Promise<void> {
    const event = eventOf(envelope);
    const now = this.deps.clock.now();
    const before = await lockJob(client, event.data.jobId, envelope.tenantId, 'update');
    const job = applyJobEvent(before, event, envelope.tenantId);
    if (job.status === before.status && job.pausedUntil === before.pausedUntil) return;
    await saveJob(client, job);
    for (const row of await lockEndpointsOfJob(client, job.jobId)) {
      const outcome = replan(this.context(now, job, await openRuns(client, row.endpointId)), row);
      await this.write(client, outcome, now, envelope, after);
    }
  }

  //////////////////////////////////////// Run events

  private async onRunEvent(
    envelope: EventEnvelope<RunEvent>,
    client: PoolClient,
    after: AfterCommit,
  ): Promise<void> {
    const event = eventOf(envelope);
    const now = this.deps.clock.now();
    // Marked finished (or, missed, started) already, and the usual finish folded, by `handleBatch`.
    const locked = await lockEndpoint(client, event.data.endpointId);
    let next: EndpointRow | null = locked;
    if (locked && event.type === 'RunStarted') {
      next = applyRunStarted(locked, event.data);
    } else if (locked && event.type === 'RunFinished') {
      next = await foldResult(client, locked, (row) => applyRunFinished(row, event.data));
    }
    if (!next) return;
    const job = await readJob(client, next.jobId);
    let open = await openRuns(client, next.endpointId);
    // A finish releases the run queue_one held back, unless the endpoint stops now (this
    // finish reached pauseAfterFailures): then the re-plan drops it.
    if (
      event.type === 'RunFinished' &&
      open.queued &&
      !replan(this.context(now, job, open), next).dropQueued
    ) {
      if (await releaseQueuedRun(client, next.endpointId, now)) {
        after.wakeOutbox = true;
        open = await openRuns(client, next.endpointId);
      }
    }
    await this.write(client, replan(this.context(now, job, open), next), now, envelope, after);
  }

  //////////////////////////////////////// Shared

  private context(now: Date, job: JobRow | null, open: PlanContext['open']): PlanContext {
    return { now, job, open, governor: this.deps.governor, newId: randomUUID };
  }

  private async write(
    client: PoolClient,
    outcome: Outcome,
    now: Date,
    envelope: EventEnvelope,
    after: AfterCommit,
  ): Promise<void> {
    await this.deps.writer.apply(
      client,
      outcome,
      { now, releaseLease: false, publishedByCaller: false, cause: causeOf(envelope) },
      after.tally,
    );
    const plan = outcome.row.plan;
    if (outcome.planChanged && plan && Date.parse(plan.runAt) <= now.getTime() + this.deps.horizonMs) {
      after.wakeDue = true;
    }
    if (outcome.handOuts.some((h) => h.state === 'dispatched')) after.wakeOutbox = true;
  }
}

/**
 * The usual finish (see `finishLeavesPlan`): its result is written over the version read,
 * without the endpoint's lock and without re-planning. Returns the row as it is then, or null
 * when the finish needs both.
 */
async function foldedWithoutLock(
  client: PoolClient,
  row: UnlockedEndpoint,
  data: RunFinished['data'],
): Promise<UnlockedEndpoint | null> {
  if (!finishLeavesPlan(row, data, row.hasQueuedRun)) return null;
  const result = recordResult(row, data);
  if (!(await saveResult(client, row.endpointId, result, row.resultVersion))) return null;
  return { ...row, ...result, resultVersion: row.resultVersion + 1 };
}

interface AtOnce {
  endpointId: string;
  result: EndpointResult;
  version: number;
  events: Array<EventEnvelope<RunFinished>>;
}

/**
 * The usual finishes (see `foldedWithoutLock`) of endpoints with no other event in the batch
 * and a result row to write over, folded in memory, in order: the result each endpoint comes
 * to, by endpoint. None when the batch holds a job event, which re-plans the job's endpoints
 * at its place in the batch.
 */
function finishesToFoldAtOnce(
  envelopes: readonly EventEnvelope[],
  skipped: ReadonlySet<string>,
  locking: ReadonlySet<string>,
  rows: ReadonlyMap<string, UnlockedEndpoint>,
): Map<string, AtOnce> {
  if (envelopes.some((e) => parseStreamId(e.streamId).category === 'job')) return new Map();
  const finishes = new Map<string, Array<EventEnvelope<RunFinished>>>();
  const excluded = new Set<string>();
  for (const envelope of envelopes) {
    const { endpointId } = envelope.data as { endpointId?: string };
    if (skipped.has(envelope.id) || !endpointId) continue;
    if (envelope.type !== 'RunFinished' || locking.has(endpointId) || !rows.get(endpointId)?.resultVersion) {
      excluded.add(endpointId);
    } else {
      finishes.set(endpointId, [...(finishes.get(endpointId) ?? []), envelope as EventEnvelope<RunFinished>]);
    }
  }
  const atOnce = new Map<string, AtOnce>();
  for (const [endpointId, events] of finishes) {
    if (excluded.has(endpointId)) continue;
    const row = rows.get(endpointId)!;
    const { lastFinished, streak } = events.reduce<EndpointRow>(
      (folded, event) => ({ ...folded, ...recordResult(folded, event.data) }),
      row,
    );
    atOnce.set(endpointId, {
      endpointId,
      result: { lastFinished, streak },
      version: row.resultVersion,
      events,
    });
  }
  return atOnce;
}

/**
 * The endpoints among `rows` (read without their locks) whose finishes in this batch, folded in
 * order, come to one that does not leave the plan (see `finishLeavesPlan`).
 */
function needingTheLock(
  finished: readonly RunFinished['data'][],
  rows: ReadonlyMap<string, UnlockedEndpoint>,
): Set<string> {
  const folded = new Map(rows);
  const needing = new Set<string>();
  for (const data of finished) {
    const row = folded.get(data.endpointId);
    if (!row || needing.has(data.endpointId)) continue;
    if (finishLeavesPlan(row, data, row.hasQueuedRun))
      folded.set(data.endpointId, { ...row, ...recordResult(row, data) });
    else needing.add(data.endpointId);
  }
  return needing;
}

/**
 * Applies `fold` to the locked row with its result locked and read afresh (a finish folded
 * without the row's lock may have changed it), and writes the result back.
 */
async function foldResult(
  client: PoolClient,
  locked: EndpointRow,
  fold: (row: EndpointRow) => EndpointRow,
): Promise<EndpointRow> {
  const { version, ...result } = await lockResult(client, locked.endpointId);
  const next = fold({ ...locked, ...result });
  const { lastFinished, streak } = next;
  if (!(await saveResult(client, next.endpointId, { lastFinished, streak }, version))) {
    throw new Error(`the result of endpoint ${next.endpointId} changed under its lock`);
  }
  return next;
}

function isOneOf<E extends EndpointEvent | JobEvent | RunEvent>(
  envelope: EventEnvelope,
  types: readonly string[],
): envelope is EventEnvelope<E> {
  return types.includes(envelope.type);
}

/** The envelope's fact as the domain types it (type and data travel together). */
function eventOf<E extends EndpointEvent | JobEvent | RunEvent>(envelope: EventEnvelope<E>): E {
  return { type: envelope.type, data: envelope.data } as E;
}

function causeOf(envelope: EventEnvelope): Cause {
  return {
    causationId: envelope.id,
    ...(envelope.metadata.correlationId ? { correlationId: envelope.metadata.correlationId } : {}),
  };
}
