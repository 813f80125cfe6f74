import { Command } from '../core/command';

/** Creates a job (`POST /v1/jobs`). `jobId` is new. */
export type CreateJob = Command<'CreateJob', { jobId: string; name: string; description: string | null }>;

/** Changes name and/or description; fields left out stay as they are. */
export type UpdateJob = Command<'UpdateJob', { jobId: string; name?: string; description?: string | null }>;

/** Pauses every endpoint of the job until `until` (null: until resumed). */
export type PauseJob = Command<'PauseJob', { jobId: string; until: string | null; reason: string | null }>;

export type ResumeJob = Command<'ResumeJob', { jobId: string }>;

/** Terminal (`DELETE /v1/jobs/:id`). */
export type ArchiveJob = Command<'ArchiveJob', { jobId: string }>;

export type JobCommand = CreateJob | UpdateJob | PauseJob | ResumeJob | ArchiveJob;
