import { EndpointConfig, HintSource } from '@cronicorn/events';
import { Command } from '../core/command';
import { JobStatus } from '../job/job.state';
import { ScheduleChange } from './endpoint.config';
import { HintProposal } from './endpoint.hints';

/**
 * Registers an endpoint in a job. `config` is complete (see `endpointConfigWithDefaults`),
 * with secret header values already encrypted. `jobStatus` is the job's state as the adapter
 * read it: an archived or missing job refuses new endpoints.
 */
export type CreateEndpoint = Command<
  'CreateEndpoint',
  { endpointId: string; jobId: string; jobStatus: JobStatus; config: EndpointConfig }
>;

/** Fields to change; a field left out keeps its value. The result is validated as a whole. */
export type EndpointChanges = Partial<Omit<EndpointConfig, 'schedule'>> & { schedule?: ScheduleChange };

export type UpdateEndpoint = Command<'UpdateEndpoint', { endpointId: string; changes: EndpointChanges }>;

/** A user pause (`POST …/pause`) until `until`, or indefinitely when null. */
export type PauseEndpoint = Command<
  'PauseEndpoint',
  { endpointId: string; until: string | null; reason: string | null }
>;

/**
 * The scheduler's automatic pause after `pauseAfterFailures` consecutive failures. Does
 * nothing when a pause is already in force, so it never shortens a user's pause.
 */
export type PauseEndpointForFailures = Command<
  'PauseEndpointForFailures',
  { endpointId: string; until: string | null; reason: string }
>;

/** Ends a user or failure pause. AI pause hints are removed with `ClearHints`. */
export type ResumeEndpoint = Command<'ResumeEndpoint', { endpointId: string }>;

/** Terminal (`DELETE /v1/endpoints/:id`). */
export type ArchiveEndpoint = Command<'ArchiveEndpoint', { endpointId: string }>;

/** Clears the consecutive-failure streak, ending any backoff. */
export type ResetFailures = Command<'ResetFailures', { endpointId: string }>;

/**
 * One run outside the schedule. `trigger` is set for source `trigger` (and, for source
 * `retry`, may carry the retried run's trigger), `retryOf` (the original run id) exactly for
 * source `retry`. `runId` is new; asking again with a
 * recent `runId` does nothing.
 */
export type RequestRun = Command<
  'RequestRun',
  {
    endpointId: string;
    runId: string;
    source: 'manual' | 'trigger' | 'retry';
    trigger: { name: string; payload: unknown } | null;
    retryOf: string | null;
  }
>;

/**
 * A hint from a user (`source: api`), the AI planner or the heuristic planner, validated and
 * clamped by `validateHint`. `hintId` is new; `model` is null unless an LLM proposed it.
 */
export type ProposeHint = Command<
  'ProposeHint',
  HintProposal & { endpointId: string; hintId: string; model: string | null }
>;

/** Removes every active hint (`DELETE …/hints`, or the AI's `clear_hints`). */
export type ClearHints = Command<'ClearHints', { endpointId: string; reason: string; source: HintSource }>;

export type EndpointCommand =
  | CreateEndpoint
  | UpdateEndpoint
  | PauseEndpoint
  | PauseEndpointForFailures
  | ResumeEndpoint
  | ArchiveEndpoint
  | ResetFailures
  | RequestRun
  | ProposeHint
  | ClearHints;
