import { Event } from '../envelope';

// Stream `job-<jobId>`, written by command-api. A job groups endpoints; pausing it pauses
// all of them without touching their own pause state.

/** A job was created. */
export type JobCreated = Event<
  'JobCreated',
  { jobId: string; name: string; description: string | null; createdAt: string }
>;

/** Name or description changed; `changes` holds only the fields that changed. */
export type JobUpdated = Event<
  'JobUpdated',
  { jobId: string; changes: { name?: string; description?: string | null }; updatedAt: string }
>;

/** Every endpoint of the job stops running until `until` (null: until resumed). */
export type JobPaused = Event<
  'JobPaused',
  { jobId: string; until: string | null; reason: string | null; pausedAt: string }
>;

export type JobResumed = Event<'JobResumed', { jobId: string; resumedAt: string }>;

/** Terminal: the job and its endpoints never run again. */
export type JobArchived = Event<'JobArchived', { jobId: string; archivedAt: string }>;

export type JobEvent = JobCreated | JobUpdated | JobPaused | JobResumed | JobArchived;
export const JobEventTypes = ['JobCreated', 'JobUpdated', 'JobPaused', 'JobResumed', 'JobArchived'] as const;
