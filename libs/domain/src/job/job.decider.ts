import { JobArchived, JobCreated, JobEvent, JobPaused, JobResumed, JobUpdated } from '@cronicorn/events';
import { Decider } from '../core/decider';
import { conflict, invalid, notFound } from '../core/errors';
import { failedChecks, futureInstantError, reasonError, textError } from '../core/validation';
import { ArchiveJob, CreateJob, JobCommand, PauseJob, ResumeJob, UpdateJob } from './job.commands';
import { evolve, initialState, jobPauseAt, JobState } from './job.state';

export const JOB_LIMITS = { maxNameLength: 200, maxDescriptionLength: 2_000 } as const;

//////////////////////////////////////// Decide

export function createJob({ data, metadata }: CreateJob, state: JobState): JobCreated[] {
  if (state.status !== 'empty') throw conflict('JOB.ALREADY_EXISTS', `Job ${data.jobId} already exists`);
  assertValid({
    name: textError(data.name, JOB_LIMITS.maxNameLength, true),
    description:
      data.description === null ? null : textError(data.description, JOB_LIMITS.maxDescriptionLength, false),
  });
  const { jobId, name, description } = data;
  return [{ type: 'JobCreated', data: { jobId, name, description, createdAt: metadata.now.toISOString() } }];
}

export function updateJob({ data, metadata }: UpdateJob, state: JobState): JobUpdated[] {
  const job = existing(state, data.jobId);
  assertValid({
    name: data.name === undefined ? null : textError(data.name, JOB_LIMITS.maxNameLength, true),
    description:
      data.description === undefined || data.description === null
        ? null
        : textError(data.description, JOB_LIMITS.maxDescriptionLength, false),
  });
  const changes: JobUpdated['data']['changes'] = {};
  if (data.name !== undefined && data.name !== job.name) changes.name = data.name;
  if (data.description !== undefined && data.description !== job.description)
    changes.description = data.description;
  if (Object.keys(changes).length === 0) return [];
  return [{ type: 'JobUpdated', data: { jobId: job.jobId, changes, updatedAt: metadata.now.toISOString() } }];
}

export function pauseJob({ data, metadata }: PauseJob, state: JobState): JobPaused[] {
  const job = existing(state, data.jobId);
  assertValid({ until: futureInstantError(data.until, metadata.now), reason: reasonError(data.reason) });
  // Like an endpoint's: pausing again sets a new end, without a resume that would let runs out between.
  const until = data.until === null ? null : new Date(data.until).toISOString();
  if (jobPauseAt(job, metadata.now)?.until === until) return [];
  return [
    {
      type: 'JobPaused',
      data: {
        jobId: job.jobId,
        until,
        reason: data.reason,
        pausedAt: metadata.now.toISOString(),
      },
    },
  ];
}

export function resumeJob({ data, metadata }: ResumeJob, state: JobState): JobResumed[] {
  const job = existing(state, data.jobId);
  if (!jobPauseAt(job, metadata.now)) throw conflict('JOB.NOT_PAUSED', `Job ${job.jobId} is not paused`);
  return [{ type: 'JobResumed', data: { jobId: job.jobId, resumedAt: metadata.now.toISOString() } }];
}

export function archiveJob({ data, metadata }: ArchiveJob, state: JobState): JobArchived[] {
  if (state.status === 'archived') return [];
  const job = existing(state, data.jobId);
  return [{ type: 'JobArchived', data: { jobId: job.jobId, archivedAt: metadata.now.toISOString() } }];
}

export function decide(command: JobCommand, state: JobState): JobEvent[] {
  const { type } = command;
  switch (type) {
    case 'CreateJob':
      return createJob(command, state);
    case 'UpdateJob':
      return updateJob(command, state);
    case 'PauseJob':
      return pauseJob(command, state);
    case 'ResumeJob':
      return resumeJob(command, state);
    case 'ArchiveJob':
      return archiveJob(command, state);
    default: {
      const _unknown: never = type;
      throw new Error(`Unknown job command ${String(_unknown)}`);
    }
  }
}

export const jobDecider: Decider<JobState, JobCommand, JobEvent> = { decide, evolve, initialState };

//////////////////////////////////////// Guards

/** The job, when it exists and is not archived. */
function existing(state: JobState, jobId: string): Exclude<JobState, { status: 'empty' | 'archived' }> {
  if (state.status === 'empty') throw notFound('JOB.NOT_FOUND', `Job ${jobId} not found`);
  if (state.status === 'archived') throw conflict('JOB.ARCHIVED', `Job ${jobId} is archived`);
  return state;
}

function assertValid(checks: Record<string, string | null>): void {
  const fields = failedChecks(checks);
  if (Object.keys(fields).length > 0) {
    throw invalid('JOB.INVALID', `Invalid job: ${Object.keys(fields).join(', ')}`, fields);
  }
}
