import { AIHintProposed, EndpointConfig, EndpointEvent, HintSource } from '@cronicorn/events';

//////////////////////////////////////// State

/** A hint as the state keeps it: at most one per kind, the newest. */
export type ActiveHint = {
  hintId: string;
  expiresAt: string;
  source: HintSource;
  reason: string;
  model: string | null;
  proposedAt: string;
} & (
  { kind: 'interval'; value: number } | { kind: 'one_shot'; value: string } | { kind: 'pause'; value: string }
);

export interface EndpointPause {
  until: string | null;
  reason: string | null;
  by: 'user' | 'failures';
  pausedAt: string;
}

interface EndpointData {
  endpointId: string;
  jobId: string;
  config: EndpointConfig;
  createdAt: string;
  updatedAt: string;
  /** Every hint proposed and not cleared, expired or not: `evolve` cannot read the clock. */
  hints: readonly ActiveHint[];
  /** The failure streak lives in run events; only its resets are endpoint facts. */
  failuresResetAt: string | null;
  /** The latest requested run ids, so a redelivered request is not recorded twice. */
  recentRunIds: readonly string[];
}

export type EndpointState =
  | { status: 'empty' }
  | (EndpointData & { status: 'active' })
  | (EndpointData & { status: 'paused'; pause: EndpointPause })
  | (EndpointData & { status: 'archived'; archivedAt: string });

export type EndpointStatus = EndpointState['status'];

/** How many recent run ids the state remembers for de-duplication. */
export const RECENT_RUN_IDS = 50;

export const initialState = (): EndpointState => ({ status: 'empty' });

/** The hints still in force at `now`, in kind order (interval, one_shot, pause). */
export function activeHints(state: EndpointState, now: Date): ActiveHint[] {
  if (state.status === 'empty' || state.status === 'archived') return [];
  return state.hints.filter((hint) => new Date(hint.expiresAt).getTime() > now.getTime());
}

/**
 * The user or failure pause in force at `now`, or null. A pause whose `until` has passed
 * stays in the state (no event ends it) but no longer counts. AI pauses are hints.
 */
export function endpointPauseAt(state: EndpointState, now: Date): EndpointPause | null {
  if (state.status !== 'paused') return null;
  const { until } = state.pause;
  return until === null || new Date(until).getTime() > now.getTime() ? state.pause : null;
}

//////////////////////////////////////// Evolve

export function evolve(state: EndpointState, event: EndpointEvent): EndpointState {
  if (event.type === 'EndpointCreated') {
    const { endpointId, jobId, config, createdAt } = event.data;
    return {
      status: 'active',
      endpointId,
      jobId,
      config,
      createdAt,
      updatedAt: createdAt,
      hints: [],
      failuresResetAt: null,
      recentRunIds: [],
    };
  }
  if (state.status === 'empty') return state;

  switch (event.type) {
    case 'EndpointUpdated':
      return { ...state, config: event.data.config, updatedAt: event.data.updatedAt };
    case 'EndpointPaused': {
      if (state.status === 'archived') return state;
      const { until, reason, by, pausedAt } = event.data;
      return { ...endpointData(state), status: 'paused', pause: { until, reason, by, pausedAt } };
    }
    case 'EndpointResumed':
      return state.status === 'paused' ? { ...endpointData(state), status: 'active' } : state;
    case 'EndpointArchived':
      return { ...endpointData(state), status: 'archived', archivedAt: event.data.archivedAt };
    case 'FailuresReset':
      return { ...state, failuresResetAt: event.data.resetAt };
    case 'RunRequested':
      return { ...state, recentRunIds: [...state.recentRunIds, event.data.runId].slice(-RECENT_RUN_IDS) };
    case 'AIHintProposed': {
      const hint = toActiveHint(event.data);
      const hints = [...state.hints.filter((h) => h.kind !== hint.kind), hint];
      return { ...state, hints: KINDS.flatMap((kind) => hints.filter((h) => h.kind === kind)) };
    }
    case 'AIHintsCleared':
      return { ...state, hints: [] };
    default: {
      const _unknown: never = event;
      return state;
    }
  }
}

const KINDS = ['interval', 'one_shot', 'pause'] as const;

function toActiveHint(data: AIHintProposed['data']): ActiveHint {
  const { hintId, expiresAt, source, reason, model, proposedAt } = data;
  const common = { hintId, expiresAt, source, reason, model, proposedAt };
  return data.kind === 'interval'
    ? { ...common, kind: 'interval', value: Number(data.value) }
    : { ...common, kind: data.kind, value: String(data.value) };
}

function endpointData(state: EndpointData): EndpointData {
  const { endpointId, jobId, config, createdAt, updatedAt, hints, failuresResetAt, recentRunIds } = state;
  return { endpointId, jobId, config, createdAt, updatedAt, hints, failuresResetAt, recentRunIds };
}
