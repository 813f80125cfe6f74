import {
  DispatchWorkItem,
  EventEnvelope,
  RunFinished,
  RunResponse,
  RunStarted,
  RunStatus,
} from '@cronicorn/events';

// Pure decisions about one delivery of a work item, taken from the run stream `run-<runId>`.
// The dispatcher reads the stream, asks `decideDelivery`, appends with the expected version,
// and on a concurrency conflict reads and asks again.

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

export interface RunStreamState {
  /** Version of `run-<runId>`; 0 when nothing was recorded yet. */
  version: number;
  starts: RunStarted['data'][];
  finished: boolean;
}

export function foldRunStream(events: readonly EventEnvelope[]): RunStreamState {
  const state: RunStreamState = { version: 0, starts: [], finished: false };
  for (const event of events) {
    state.version = event.streamVersion;
    if (event.type === 'RunStarted') state.starts.push(event.data as RunStarted['data']);
    else if (event.type === 'RunFinished') state.finished = true;
  }
  return state;
}

/**
 * The work-item message that holds the open run when it is not `seq`: another copy of the
 * work item began the run, and whether its message is still queued decides what `seq` does.
 */
export function otherHolderSeq(state: RunStreamState, seq: number): number | null {
  const last = state.starts.at(-1);
  if (state.finished || !last || last.workItemSeq === undefined) return null;
  return last.workItemSeq === seq ? null : last.workItemSeq;
}

// ---------------------------------------------------------------------------------------------
// Decide
// ---------------------------------------------------------------------------------------------

export interface DeliveryFacts {
  /** JetStream sequence of the delivered message. */
  seq: number;
  /**
   * Whether the message named by {@link otherHolderSeq} is still in the work queue (its holder,
   * or its redelivery, will finish the run). Only consulted when there is such a message.
   */
  otherHolderPending: boolean;
  /** Deliveries that may begin the call before the run is given up (crash loops). */
  maxRunAttempts: number;
}

export type DeliveryDecision =
  /** The run already has its `RunFinished`: a late redelivery or a second copy. */
  | { kind: 'already_finished' }
  /** Another copy of the work item holds the run and is still queued: it will finish it. */
  | { kind: 'held_elsewhere'; holderSeq: number }
  /** Append `RunStarted` (attempt n) and make the call; n > 1 takes over a dead delivery. */
  | { kind: 'start'; attempt: number; expectedVersion: number }
  /** Every allowed attempt began and none finished: record the run as failed, do not call. */
  | { kind: 'abandon'; expectedVersion: number; lastStart: RunStarted['data'] };

export function decideDelivery(state: RunStreamState, facts: DeliveryFacts): DeliveryDecision {
  if (state.finished) return { kind: 'already_finished' };
  const holderSeq = otherHolderSeq(state, facts.seq);
  if (holderSeq !== null && facts.otherHolderPending) return { kind: 'held_elsewhere', holderSeq };
  const lastStart = state.starts.at(-1);
  if (lastStart && state.starts.length >= facts.maxRunAttempts) {
    return { kind: 'abandon', expectedVersion: state.version, lastStart };
  }
  return { kind: 'start', attempt: state.starts.length + 1, expectedVersion: state.version };
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

export function runStarted(
  item: DispatchWorkItem,
  attempt: number,
  startedAt: Date,
  delivery: { seq: number; dispatcherId: string },
): RunStarted {
  return {
    type: 'RunStarted',
    data: {
      runId: item.runId,
      endpointId: item.endpointId,
      jobId: item.jobId,
      scheduledFor: item.scheduledFor,
      startedAt: startedAt.toISOString(),
      lateMs: startedAt.getTime() - Date.parse(item.scheduledFor),
      attempt,
      trigger: item.trigger,
      retryOf: item.retryOf,
      workItemSeq: delivery.seq,
      dispatcherId: delivery.dispatcherId,
    },
  };
}

/** What the call produced, in the shape `RunFinished` records (see `RunOutcome`). */
export interface CallResult {
  status: RunStatus;
  httpStatus: number | null;
  durationMs: number;
  attempts: number;
  error: string | null;
  response: RunResponse | null;
  retryAfterMs: number | null;
  /** Body template placeholders that resolved to nothing (recorded on `RunFinished`). */
  templateUnresolved?: string[];
}

export function runFinished(
  item: Pick<DispatchWorkItem, 'runId' | 'endpointId' | 'jobId' | 'scheduledFor' | 'trigger' | 'retryOf'>,
  startedAt: string,
  result: CallResult,
  finishedAt: Date,
): RunFinished {
  return {
    type: 'RunFinished',
    data: {
      runId: item.runId,
      endpointId: item.endpointId,
      jobId: item.jobId,
      status: result.status,
      httpStatus: result.httpStatus,
      durationMs: result.durationMs,
      attempts: result.attempts,
      error: result.error,
      response: result.response,
      retryAfterMs: result.retryAfterMs,
      scheduledFor: item.scheduledFor,
      startedAt,
      finishedAt: finishedAt.toISOString(),
      trigger: item.trigger,
      retryOf: item.retryOf,
      ...(result.templateUnresolved?.length ? { templateUnresolved: [...result.templateUnresolved] } : {}),
    },
  };
}

/** The `RunFinished` of a run whose every allowed delivery died before finishing it. */
export function abandonedRun(lastStart: RunStarted['data'], attempts: number, finishedAt: Date): RunFinished {
  return runFinished(
    lastStart,
    lastStart.startedAt,
    {
      status: 'failed',
      httpStatus: null,
      durationMs: Math.max(0, finishedAt.getTime() - Date.parse(lastStart.startedAt)),
      attempts: 0,
      error: `abandoned: ${attempts} dispatcher deliveries began this run and none finished it`,
      response: null,
      retryAfterMs: null,
    },
    finishedAt,
  );
}
