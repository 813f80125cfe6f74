import { Event } from '../envelope';

// Stream `run-<runId>`, written by the dispatcher. One stream per run: `RunStarted` for each
// delivery of the work item that began the call, exactly one `RunFinished`.

export type RunTrigger = 'schedule' | 'manual' | 'trigger' | 'retry';
export type RunStatus = 'success' | 'failed' | 'timeout';

/**
 * A dispatcher began the run. `lateMs` = `startedAt` − `scheduledFor`. `attempt` counts
 * deliveries of the work item (a redelivery after a dispatcher crash is attempt 2).
 */
export type RunStarted = Event<
  'RunStarted',
  {
    runId: string;
    endpointId: string;
    jobId: string;
    scheduledFor: string;
    startedAt: string;
    lateMs: number;
    attempt: number;
    trigger: RunTrigger;
    retryOf: string | null;
    /**
     * JetStream sequence of the work item this delivery came from: a redelivery of the same
     * message takes the run over, a second copy of the work item does not.
     */
    workItemSeq?: number;
    /** The dispatcher instance (`host:pid:tag`) that began this attempt. */
    dispatcherId?: string;
  }
>;

/** A bounded snippet of the response body, kept for the AI planner and the API. */
export interface RunResponse {
  snippet: string;
  bytes: number;
  truncated: boolean;
  contentType: string | null;
}

/**
 * The run ended. `attempts` counts HTTP attempts inside the run (`maxAttempts`);
 * `retryAfterMs` is the target's `Retry-After` on a 429/503, honoured by the governor.
 */
export type RunFinished = Event<
  'RunFinished',
  {
    runId: string;
    endpointId: string;
    jobId: string;
    status: RunStatus;
    httpStatus: number | null;
    durationMs: number;
    attempts: number;
    error: string | null;
    response: RunResponse | null;
    retryAfterMs: number | null;
    scheduledFor: string;
    startedAt: string;
    finishedAt: string;
    trigger: RunTrigger;
    retryOf: string | null;
    /**
     * Placeholders of the request body template that resolved to nothing (they were sent
     * empty); absent when the body was not rendered or everything resolved.
     */
    templateUnresolved?: string[];
  }
>;

export type RunEvent = RunStarted | RunFinished;
export const RunEventTypes = ['RunStarted', 'RunFinished'] as const;
