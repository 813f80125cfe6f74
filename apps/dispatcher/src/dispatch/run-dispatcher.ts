import { DispatchWorkItem, Event, EventMetadata, streamIds } from '@cronicorn/events';
import { AppendResult, ConcurrencyError, EventStore } from '@cronicorn/event-store';
import { backoffMs, MessagingLogger, sleep } from '@cronicorn/messaging';
import { RenderedTemplate, renderTemplate } from '@cronicorn/domain';
import { Clock, SecretBox, SystemClock } from '@cronicorn/platform';
import type { HttpExecutor } from '../http/http-executor';
import { DeliveryOutcome, noRunMetrics, RunMetrics } from './dispatcher.metrics';
import {
  abandonedRun,
  CallResult,
  decideDelivery,
  foldRunStream,
  otherHolderSeq,
  runFinished,
  runStarted,
} from './run-delivery';
import { redactResult } from './secret-redaction';

/** The delivery of a work item as JetStream reported it. */
export interface Delivery {
  /** Stream sequence of the message (the same on every redelivery of it). */
  seq: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
}

export interface RunDispatcherOptions {
  store: Pick<EventStore, 'readStream' | 'append'>;
  executor: Pick<HttpExecutor, 'execute'>;
  /** From `SECRETS_KEY`; null when unset (work items with secret headers then fail). */
  secretBox: SecretBox | null;
  /** Whether the work-queue message `seq` is still queued (unacknowledged). */
  isQueued(seq: number): Promise<boolean>;
  /** This instance, recorded on `RunStarted`. */
  dispatcherId: string;
  maxRunAttempts: number;
  logger: MessagingLogger;
  metrics?: RunMetrics;
  /** Business time (`CRONICORN_CLOCK_OFFSET_MS`): startedAt, lateness, finishedAt. */
  clock?: Clock;
  /** Tries of the final append while Postgres is unreachable, before the delivery is given back. */
  finishAppendAttempts?: number;
}

/** Thrown when the run stream kept changing under us; the delivery is retried. */
export class RunContentionError extends Error {
  readonly code = 'DISPATCHER.RUN_CONTENTION';
}

// Conflicts on one run come from a handful of copies or redeliveries; more means a bug.
const MAX_DECISION_ROUNDS = 5;

/**
 * Handles one delivery of a work item, idempotently, against the run stream `run-<runId>`:
 * at most one `RunFinished` per run whatever JetStream redelivers or duplicates.
 *
 * - The decision (finished already? held by another copy? start attempt n? give up?) comes
 *   from the stream; `RunStarted` is appended with the version it was decided on, and a
 *   conflict means another delivery moved first: read again and decide again.
 * - `RunFinished` is appended with the version right after our `RunStarted`. If that fails
 *   with a conflict, another dispatcher appended its own `RunStarted` meanwhile: our delivery
 *   was given up as dead (ack wait passed) and the run was taken over. Our result is dropped.
 * - Errors reading or appending (Postgres away) propagate: the worker naks with a delay and
 *   the item stays queued.
 */
export class RunDispatcher {
  private readonly clock: Clock;
  private readonly metrics: RunMetrics;

  constructor(private readonly options: RunDispatcherOptions) {
    this.clock = options.clock ?? new SystemClock();
    this.metrics = options.metrics ?? noRunMetrics;
  }

  async dispatch(item: DispatchWorkItem, delivery: Delivery): Promise<DeliveryOutcome> {
    try {
      const outcome = await this.handle(item, delivery);
      this.metrics.delivery(outcome);
      return outcome;
    } catch (error) {
      this.metrics.delivery('failed');
      throw error;
    }
  }

  private async handle(item: DispatchWorkItem, delivery: Delivery): Promise<DeliveryOutcome> {
    const streamId = streamIds.run(item.runId);
    const log = {
      runId: item.runId,
      endpointId: item.endpointId,
      tenantId: item.tenantId,
      seq: delivery.seq,
    };
    for (let round = 1; round <= MAX_DECISION_ROUNDS; round++) {
      // A first delivery nearly always finds the stream empty, so it is not read: `RunStarted`
      // goes in at version 0, and should a copy of the item have begun the run, that append
      // conflicts and the next round reads the stream.
      const assumeEmpty = round === 1 && delivery.deliveryCount === 1;
      const state = foldRunStream(assumeEmpty ? [] : await this.options.store.readStream(streamId));
      const holderSeq = otherHolderSeq(state, delivery.seq);
      const decision = decideDelivery(state, {
        seq: delivery.seq,
        otherHolderPending: holderSeq !== null && (await this.options.isQueued(holderSeq)),
        maxRunAttempts: this.options.maxRunAttempts,
      });
      switch (decision.kind) {
        case 'already_finished':
          this.options.logger.debug(log, 'run already finished; duplicate delivery acknowledged');
          return 'already_finished';
        case 'held_elsewhere':
          this.options.logger.info(
            { ...log, holderSeq: decision.holderSeq },
            'another copy of this work item holds the run; this copy is dropped',
          );
          return 'held_elsewhere';
        case 'abandon': {
          const finished = abandonedRun(decision.lastStart, state.starts.length, this.clock.now());
          if (!(await this.tryAppend(streamId, finished, decision.expectedVersion, item))) continue;
          this.metrics.runFinished('failed', finished.data.durationMs);
          this.options.logger.error(
            { ...log, attempts: state.starts.length },
            'run abandoned: every allowed delivery died before finishing it',
          );
          return 'abandoned';
        }
        case 'start': {
          const startedAt = this.clock.now();
          const started = runStarted(item, decision.attempt, startedAt, {
            seq: delivery.seq,
            dispatcherId: this.options.dispatcherId,
          });
          const appended = await this.tryAppend(streamId, started, decision.expectedVersion, item);
          if (!appended) continue;
          this.metrics.runStarted(started.data.lateMs);
          const fields = { ...log, attempt: decision.attempt, lateMs: started.data.lateMs };
          if (decision.attempt > 1)
            this.options.logger.info(fields, 'run taken over from a delivery that died');
          else this.options.logger.debug(fields, 'run started');
          return this.callAndFinish(item, started.data.startedAt, appended, log);
        }
      }
    }
    throw new RunContentionError(`run ${item.runId} changed ${MAX_DECISION_ROUNDS} times while deciding`);
  }

  private async callAndFinish(
    item: DispatchWorkItem,
    startedAt: string,
    started: AppendResult,
    log: Record<string, unknown>,
  ): Promise<DeliveryOutcome> {
    this.metrics.callStarted();
    let result: CallResult;
    try {
      result = await this.call(item);
    } finally {
      this.metrics.callEnded();
    }
    const finished = runFinished(item, startedAt, result, this.clock.now());
    const ok = await this.appendFinished(item, finished, started);
    if (!ok) {
      this.options.logger.warn(
        log,
        'run was taken over by another dispatcher while this call ran; this result is dropped',
      );
      return 'superseded';
    }
    this.metrics.runFinished(result.status, result.durationMs);
    this.options.logger.info(
      {
        ...log,
        status: result.status,
        httpStatus: result.httpStatus,
        durationMs: result.durationMs,
        attempts: result.attempts,
        ...(result.error ? { error: result.error } : {}),
      },
      'run finished',
    );
    return 'finished';
  }

  /** The HTTP call, with secret headers decrypted for it and redacted from what is kept. */
  private async call(item: DispatchWorkItem): Promise<CallResult> {
    let secretHeaders: Record<string, string>;
    try {
      secretHeaders = this.decryptSecrets(item.request.secretHeaders);
    } catch (error) {
      return failedBeforeCall(error instanceof Error ? error.message : String(error));
    }
    // Only runs that carry a context (requested runs: manual, named triggers, retries) render:
    // a scheduled run sends its body exactly as configured, braces included.
    let rendered: RenderedTemplate | null;
    try {
      rendered = item.templateContext
        ? renderTemplate(item.request.body, item.templateContext, {
            jsonText: declaresJson(item.request.headers, secretHeaders),
          })
        : null;
    } catch (error) {
      return failedBeforeCall(error instanceof Error ? error.message : String(error));
    }
    const body = rendered ? rendered.value : item.request.body;
    const request = { ...item.request, body, secretHeaders };
    const outcome = await this.options.executor.execute(request);
    const result = redactResult(outcome, Object.values(secretHeaders));
    return rendered?.unresolved.length ? { ...result, templateUnresolved: rendered.unresolved } : result;
  }

  private decryptSecrets(encrypted: Readonly<Record<string, string>>): Record<string, string> {
    if (Object.keys(encrypted).length === 0) return {};
    if (!this.options.secretBox) {
      throw new Error('secret headers cannot be decrypted: SECRETS_KEY is not set on the dispatcher');
    }
    try {
      return this.options.secretBox.decryptValues(encrypted);
    } catch (error) {
      // The message names neither header values nor tokens; the header names are not secret.
      throw new Error(
        `secret headers (${Object.keys(encrypted).join(', ')}) cannot be decrypted: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }

  /**
   * Appends `RunFinished` right after our `RunStarted`. False: the run was taken over. A
   * database outage is retried for a while (the call has happened and its result is worth
   * keeping; heartbeats keep the delivery alive meanwhile), then the error propagates.
   */
  private async appendFinished(
    item: DispatchWorkItem,
    finished: Event,
    started: AppendResult,
  ): Promise<boolean> {
    const attempts = this.options.finishAppendAttempts ?? 6;
    for (let attempt = 1; ; attempt++) {
      try {
        const appended = await this.tryAppend(
          streamIds.run(item.runId),
          finished,
          started.nextExpectedVersion,
          item,
          started.envelopes[0]?.id,
        );
        return appended !== false;
      } catch (error) {
        if (attempt >= attempts) throw error;
        this.options.logger.warn(
          {
            runId: item.runId,
            attempt,
            err: { message: error instanceof Error ? error.message : String(error) },
          },
          'could not record RunFinished; retrying',
        );
        await sleep(backoffMs(attempt, 500, 8_000));
      }
    }
  }

  /** Appends at `expectedVersion`; false on a concurrency conflict, other errors propagate. */
  private async tryAppend(
    streamId: string,
    event: Event,
    expectedVersion: number,
    item: DispatchWorkItem,
    causationId?: string,
  ): Promise<AppendResult | false> {
    const metadata: EventMetadata = {
      tenantId: item.tenantId,
      actor: 'dispatcher',
      ...(item.correlationId ? { correlationId: item.correlationId } : {}),
      ...(causationId ? { causationId } : {}),
    };
    try {
      return await this.options.store.append(streamId, [event], {
        expectedVersion,
        metadata,
        occurredAt: this.clock.now(),
      });
    } catch (error) {
      if (error instanceof ConcurrencyError) return false;
      throw error;
    }
  }
}

/** Whether the request's own `content-type` (a secret header's winning) names JSON. */
function declaresJson(...sources: Readonly<Record<string, string>>[]): boolean {
  let contentType = '';
  for (const source of sources) {
    for (const [name, value] of Object.entries(source))
      if (name.toLowerCase() === 'content-type') contentType = value;
  }
  return /^\s*application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i.test(contentType);
}

function failedBeforeCall(error: string): CallResult {
  return {
    status: 'failed',
    httpStatus: null,
    durationMs: 0,
    attempts: 0,
    error,
    response: null,
    retryAfterMs: null,
  };
}
