import { JobArchived, JobCreated, JobPaused, JobResumed } from '@cronicorn/events';
import { DeciderSpecification, domainError } from '../testing/decider-spec';
import { JobCommand } from './job.commands';
import { jobDecider } from './job.decider';

const now = new Date('2025-03-10T12:00:00.000Z');
const at = now.toISOString();
const later = '2025-03-10T18:00:00.000Z';
const jobId = 'job-1';
const spec = DeciderSpecification.for(jobDecider);

const created: JobCreated = {
  type: 'JobCreated',
  data: { jobId, name: 'Billing', description: 'Nightly billing', createdAt: '2025-03-01T00:00:00.000Z' },
};
const paused = (until: string | null, pausedAt = at): JobPaused => ({
  type: 'JobPaused',
  data: { jobId, until, reason: 'maintenance', pausedAt },
});
const resumed: JobResumed = { type: 'JobResumed', data: { jobId, resumedAt: at } };
const archived: JobArchived = { type: 'JobArchived', data: { jobId, archivedAt: at } };

const command = <C extends JobCommand>(type: C['type'], data: C['data']) =>
  ({ type, data, metadata: { now } }) as C;
const create = command('CreateJob', { jobId, name: 'Billing', description: 'Nightly billing' });
const update = (changes: { name?: string; description?: string | null }) =>
  command('UpdateJob', { jobId, ...changes });
const pause = (until: string | null = null) => command('PauseJob', { jobId, until, reason: 'maintenance' });
const resume = command('ResumeJob', { jobId });
const archive = command('ArchiveJob', { jobId });

describe('Job', () => {
  describe('When not created', () => {
    it('should create the job', () => {
      spec
        .given([])
        .when(create)
        .then({
          type: 'JobCreated',
          data: { jobId, name: 'Billing', description: 'Nightly billing', createdAt: at },
        });
    });

    it('should refuse an empty name', () => {
      spec
        .given([])
        .when(command('CreateJob', { jobId, name: '', description: null }))
        .thenThrows(domainError('JOB.INVALID', 'invalid', ['name']));
    });

    it.each([
      ['UpdateJob', update({ name: 'x' })],
      ['PauseJob', pause()],
      ['ResumeJob', resume],
      ['ArchiveJob', archive],
    ])('should answer not found to %s', (_name, cmd) => {
      spec.given([]).when(cmd).thenThrows(domainError('JOB.NOT_FOUND', 'not_found'));
    });
  });

  describe('When active', () => {
    const given = [created];

    it('should refuse to create it again', () => {
      spec.given(given).when(create).thenThrows(domainError('JOB.ALREADY_EXISTS', 'conflict'));
    });

    it('should record only the fields that changed', () => {
      spec
        .given(given)
        .when(update({ name: 'Billing', description: null }))
        .then({ type: 'JobUpdated', data: { jobId, changes: { description: null }, updatedAt: at } });
    });

    it('should do nothing when nothing changed', () => {
      spec
        .given(given)
        .when(update({ name: 'Billing', description: 'Nightly billing' }))
        .thenNothing();
    });

    it('should refuse an empty new name', () => {
      spec
        .given(given)
        .when(update({ name: ' ' }))
        .thenThrows(domainError('JOB.INVALID', 'invalid', ['name']));
    });

    it('should pause indefinitely', () => {
      spec.given(given).when(pause(null)).then(paused(null));
    });

    it('should pause until a time, written in UTC', () => {
      spec.given(given).when(pause('2025-03-10T20:00:00+02:00')).then(paused(later));
    });

    it('should refuse a pause that ends in the past', () => {
      spec
        .given(given)
        .when(pause('2025-03-10T11:59:59.000Z'))
        .thenThrows(domainError('JOB.INVALID', 'invalid', ['until']));
    });

    it('should refuse a pause end without an offset', () => {
      spec
        .given(given)
        .when(pause('2025-03-10T20:00:00'))
        .thenThrows(domainError('JOB.INVALID', 'invalid', ['until']));
    });

    it('should refuse to resume', () => {
      spec.given(given).when(resume).thenThrows(domainError('JOB.NOT_PAUSED', 'conflict'));
    });

    it('should archive', () => {
      spec.given(given).when(archive).then(archived);
    });
  });

  describe('When paused', () => {
    const given = [created, paused(later)];

    it('should change nothing when paused again until the same time', () => {
      spec.given(given).when(pause(later)).thenNothing();
    });

    it('should move the end of the pause when paused again until another time', () => {
      spec.given(given).when(pause(null)).then(paused(null));
    });

    it('should resume', () => {
      spec.given(given).when(resume).then(resumed);
    });

    it('should still accept updates', () => {
      spec
        .given(given)
        .when(update({ name: 'Invoices' }))
        .then({ type: 'JobUpdated', data: { jobId, changes: { name: 'Invoices' }, updatedAt: at } });
    });

    it('should archive', () => {
      spec.given(given).when(archive).then(archived);
    });
  });

  describe('When a pause has run out', () => {
    const given = [created, paused('2025-03-10T11:00:00.000Z', '2025-03-10T10:00:00.000Z')];

    it('should accept a new pause', () => {
      spec.given(given).when(pause(later)).then(paused(later));
    });

    it('should refuse to resume what is no longer paused', () => {
      spec.given(given).when(resume).thenThrows(domainError('JOB.NOT_PAUSED', 'conflict'));
    });
  });

  describe('When resumed', () => {
    it('should pause again', () => {
      spec
        .given([created, paused(null), resumed])
        .when(pause(null))
        .then(paused(null));
    });
  });

  describe('When archived', () => {
    const given = [created, archived];

    it('should do nothing when archived again', () => {
      spec.given(given).when(archive).thenNothing();
    });

    it.each([
      ['CreateJob', create],
      ['UpdateJob', update({ name: 'x' })],
      ['PauseJob', pause()],
      ['ResumeJob', resume],
    ])('should refuse %s', (name, cmd) => {
      const code = name === 'CreateJob' ? 'JOB.ALREADY_EXISTS' : 'JOB.ARCHIVED';
      spec.given(given).when(cmd).thenThrows(domainError(code, 'conflict'));
    });
  });
});
