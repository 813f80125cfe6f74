import {
  AIHintProposed,
  AIHintsCleared,
  EndpointArchived,
  EndpointConfig,
  EndpointCreated,
  EndpointEvent,
  EndpointPaused,
  EndpointResumed,
  EndpointUpdated,
  FailuresReset,
  RunRequested,
} from '@cronicorn/events';
import { Decider } from '../core/decider';
import { conflict, invalid, notFound } from '../core/errors';
import { definedOnly, failedChecks, futureInstantError, instant, reasonError } from '../core/validation';
import {
  ArchiveEndpoint,
  ClearHints,
  CreateEndpoint,
  EndpointCommand,
  PauseEndpoint,
  PauseEndpointForFailures,
  ProposeHint,
  RequestRun,
  ResetFailures,
  ResumeEndpoint,
  UpdateEndpoint,
} from './endpoint.commands';
import { assertValidEndpointConfig, jsonEqual, normalizeInstants, resolveSchedule } from './endpoint.config';
import { validateHint } from './endpoint.hints';
import { activeHints, EndpointState, evolve, initialState, endpointPauseAt } from './endpoint.state';

//////////////////////////////////////// Decide

export function createEndpoint({ data, metadata }: CreateEndpoint, state: EndpointState): EndpointCreated[] {
  if (state.status !== 'empty') {
    throw conflict('ENDPOINT.ALREADY_EXISTS', `Endpoint ${data.endpointId} already exists`);
  }
  if (data.jobStatus === 'empty') throw notFound('JOB.NOT_FOUND', `Job ${data.jobId} not found`);
  if (data.jobStatus === 'archived') throw conflict('JOB.ARCHIVED', `Job ${data.jobId} is archived`);
  assertValidEndpointConfig(data.config, metadata.now, { scheduleIsNew: true });
  const { endpointId, jobId } = data;
  return [
    {
      type: 'EndpointCreated',
      data: {
        endpointId,
        jobId,
        config: normalizeInstants(data.config),
        createdAt: metadata.now.toISOString(),
      },
    },
  ];
}

export function updateEndpoint({ data, metadata }: UpdateEndpoint, state: EndpointState): EndpointUpdated[] {
  const endpoint = existing(state, data.endpointId);
  const { schedule, ...fields } = data.changes;
  const current = endpoint.config;
  const next: EndpointConfig = {
    ...current,
    ...definedOnly(fields),
    schedule: schedule === undefined ? current.schedule : resolveSchedule(schedule, current.schedule),
  };
  assertValidEndpointConfig(next, metadata.now, {
    scheduleIsNew: !jsonEqual(next.schedule, current.schedule),
  });
  const config = normalizeInstants(next);

  const changes: Partial<EndpointConfig> = {};
  for (const key of Object.keys(config) as (keyof EndpointConfig)[]) {
    if (!jsonEqual(config[key], current[key])) Object.assign(changes, { [key]: config[key] });
  }
  if (Object.keys(changes).length === 0) return [];
  return [
    {
      type: 'EndpointUpdated',
      data: { endpointId: endpoint.endpointId, changes, config, updatedAt: metadata.now.toISOString() },
    },
  ];
}

export function pauseEndpoint({ data, metadata }: PauseEndpoint, state: EndpointState): EndpointPaused[] {
  const endpoint = existing(state, data.endpointId);
  assertValid('ENDPOINT.INVALID_PAUSE', {
    until: futureInstantError(data.until, metadata.now),
    reason: reasonError(data.reason),
  });
  const until = utc(data.until);
  if (endpointPauseAt(endpoint, metadata.now)?.until === until) return [];
  return [paused(endpoint.endpointId, until, data.reason, 'user', metadata.now)];
}

export function pauseEndpointForFailures(
  { data, metadata }: PauseEndpointForFailures,
  state: EndpointState,
): EndpointPaused[] {
  const endpoint = existing(state, data.endpointId);
  assertValid('ENDPOINT.INVALID_PAUSE', {
    until: futureInstantError(data.until, metadata.now),
    reason: reasonError(data.reason),
  });
  if (endpointPauseAt(endpoint, metadata.now)) return [];
  return [paused(endpoint.endpointId, utc(data.until), data.reason, 'failures', metadata.now)];
}

export function resumeEndpoint({ data, metadata }: ResumeEndpoint, state: EndpointState): EndpointResumed[] {
  const endpoint = existing(state, data.endpointId);
  if (!endpointPauseAt(endpoint, metadata.now)) {
    throw conflict(
      'ENDPOINT.NOT_PAUSED',
      `Endpoint ${endpoint.endpointId} is not paused (AI pauses are hints)`,
    );
  }
  return [
    {
      type: 'EndpointResumed',
      data: { endpointId: endpoint.endpointId, resumedAt: metadata.now.toISOString() },
    },
  ];
}

export function archiveEndpoint(
  { data, metadata }: ArchiveEndpoint,
  state: EndpointState,
): EndpointArchived[] {
  if (state.status === 'archived') return [];
  const endpoint = existing(state, data.endpointId);
  return [
    {
      type: 'EndpointArchived',
      data: { endpointId: endpoint.endpointId, archivedAt: metadata.now.toISOString() },
    },
  ];
}

export function resetFailures({ data, metadata }: ResetFailures, state: EndpointState): FailuresReset[] {
  const endpoint = existing(state, data.endpointId);
  return [
    { type: 'FailuresReset', data: { endpointId: endpoint.endpointId, resetAt: metadata.now.toISOString() } },
  ];
}

export function requestRun({ data, metadata }: RequestRun, state: EndpointState): RunRequested[] {
  const endpoint = existing(state, data.endpointId);
  const { runId, source, trigger, retryOf } = data;
  assertValid('ENDPOINT.INVALID_RUN_REQUEST', {
    source: ['manual', 'trigger', 'retry'].includes(source) ? null : 'must be manual, trigger or retry',
    // A retry may carry the trigger of the run it retries, so it renders the same payload.
    trigger:
      source === 'retry' || (source === 'trigger') === (trigger !== null)
        ? null
        : 'required exactly for source trigger (optional for retry)',
    retryOf: (source === 'retry') === (retryOf !== null) ? null : 'required exactly for source retry',
  });
  if (source === 'trigger' && trigger && !endpoint.config.triggers.includes(trigger.name)) {
    throw conflict(
      'ENDPOINT.NOT_LISTENING',
      `Endpoint ${endpoint.endpointId} does not listen to "${trigger.name}"`,
    );
  }
  if (endpoint.recentRunIds.includes(runId)) return [];
  return [
    {
      type: 'RunRequested',
      data: {
        endpointId: endpoint.endpointId,
        runId,
        source,
        trigger,
        retryOf,
        requestedAt: metadata.now.toISOString(),
      },
    },
  ];
}

export function proposeHint({ data, metadata }: ProposeHint, state: EndpointState): AIHintProposed[] {
  const endpoint = existing(state, data.endpointId);
  if (endpoint.hints.some((hint) => hint.hintId === data.hintId)) return [];
  const decision = validateHint(endpoint.config, data, metadata.now);
  if (decision.outcome === 'rejected') {
    throw invalid(decision.code, `Hint rejected: ${decision.field} ${decision.reason}`, {
      [decision.field]: decision.reason,
    });
  }
  const { kind, value, requested, expiresAt, reason } = decision.hint;
  return [
    {
      type: 'AIHintProposed',
      data: {
        endpointId: endpoint.endpointId,
        hintId: data.hintId,
        kind,
        value,
        requested,
        expiresAt,
        reason,
        source: data.source,
        model: data.model,
        proposedAt: metadata.now.toISOString(),
      },
    },
  ];
}

export function clearHints({ data, metadata }: ClearHints, state: EndpointState): AIHintsCleared[] {
  const endpoint = existing(state, data.endpointId);
  assertValid('HINT.INVALID_REASON', { reason: reasonError(data.reason) });
  if (activeHints(endpoint, metadata.now).length === 0) return [];
  const { reason, source } = data;
  return [
    {
      type: 'AIHintsCleared',
      data: { endpointId: endpoint.endpointId, reason, source, clearedAt: metadata.now.toISOString() },
    },
  ];
}

export function decide(command: EndpointCommand, state: EndpointState): EndpointEvent[] {
  const { type } = command;
  switch (type) {
    case 'CreateEndpoint':
      return createEndpoint(command, state);
    case 'UpdateEndpoint':
      return updateEndpoint(command, state);
    case 'PauseEndpoint':
      return pauseEndpoint(command, state);
    case 'PauseEndpointForFailures':
      return pauseEndpointForFailures(command, state);
    case 'ResumeEndpoint':
      return resumeEndpoint(command, state);
    case 'ArchiveEndpoint':
      return archiveEndpoint(command, state);
    case 'ResetFailures':
      return resetFailures(command, state);
    case 'RequestRun':
      return requestRun(command, state);
    case 'ProposeHint':
      return proposeHint(command, state);
    case 'ClearHints':
      return clearHints(command, state);
    default: {
      const _unknown: never = type;
      throw new Error(`Unknown endpoint command ${String(_unknown)}`);
    }
  }
}

export const endpointDecider: Decider<EndpointState, EndpointCommand, EndpointEvent> = {
  decide,
  evolve,
  initialState,
};

//////////////////////////////////////// Guards

type LiveEndpoint = Extract<EndpointState, { status: 'active' | 'paused' }>;

/** The endpoint, when it exists and is not archived. */
function existing(state: EndpointState, endpointId: string): LiveEndpoint {
  if (state.status === 'empty') throw notFound('ENDPOINT.NOT_FOUND', `Endpoint ${endpointId} not found`);
  if (state.status === 'archived') throw conflict('ENDPOINT.ARCHIVED', `Endpoint ${endpointId} is archived`);
  return state;
}

function assertValid(code: string, checks: Record<string, string | null>): void {
  const fields = failedChecks(checks);
  if (Object.keys(fields).length > 0)
    throw invalid(code, `Invalid input: ${Object.keys(fields).join(', ')}`, fields);
}

function utc(value: string | null): string | null {
  return value === null ? null : (instant(value)?.toISOString() ?? value);
}

function paused(
  endpointId: string,
  until: string | null,
  reason: string | null,
  by: 'user' | 'failures',
  now: Date,
): EndpointPaused {
  return { type: 'EndpointPaused', data: { endpointId, until, reason, by, pausedAt: now.toISOString() } };
}
