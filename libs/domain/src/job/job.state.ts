import { JobEvent } from '@cronicorn/events';
import { definedOnly } from '../core/validation';

//////////////////////////////////////// State

export interface JobPause {
  until: string | null;
  reason: string | null;
  pausedAt: string;
}

interface JobData {
  jobId: string;
  name: string;
  description: string | null;
  createdAt: string;
}

export type JobState =
  | { status: 'empty' }
  | (JobData & { status: 'active' })
  | (JobData & { status: 'paused'; pause: JobPause })
  | (JobData & { status: 'archived'; archivedAt: string });

/** What a new endpoint needs to know about its job (`CreateEndpoint.jobStatus`). */
export type JobStatus = JobState['status'];

export const initialState = (): JobState => ({ status: 'empty' });

/**
 * The pause in force at `now`, or null. A pause whose `until` has passed stays in the state
 * (no event ends it) but no longer counts.
 */
export function jobPauseAt(state: JobState, now: Date): JobPause | null {
  if (state.status !== 'paused') return null;
  const { until } = state.pause;
  return until === null || new Date(until).getTime() > now.getTime() ? state.pause : null;
}

//////////////////////////////////////// Evolve

export function evolve(state: JobState, event: JobEvent): JobState {
  switch (event.type) {
    case 'JobCreated': {
      const { jobId, name, description, createdAt } = event.data;
      return { status: 'active', jobId, name, description, createdAt };
    }
    case 'JobUpdated':
      if (state.status === 'empty') return state;
      return { ...state, ...definedOnly(event.data.changes) };
    case 'JobPaused': {
      if (state.status === 'empty' || state.status === 'archived') return state;
      const { until, reason, pausedAt } = event.data;
      return { ...jobData(state), status: 'paused', pause: { until, reason, pausedAt } };
    }
    case 'JobResumed':
      if (state.status !== 'paused') return state;
      return { ...jobData(state), status: 'active' };
    case 'JobArchived':
      if (state.status === 'empty') return state;
      return { ...jobData(state), status: 'archived', archivedAt: event.data.archivedAt };
    default: {
      const _unknown: never = event;
      return state;
    }
  }
}

function jobData({ jobId, name, description, createdAt }: JobData): JobData {
  return { jobId, name, description, createdAt };
}
