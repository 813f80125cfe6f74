import { JobEvent } from '@cronicorn/events';
import { conflict } from '../core/errors';
import { JobCommand } from '../job/job.commands';
import { jobDecider } from '../job/job.decider';
import { DeciderSpecification, domainError } from './decider-spec';

const now = new Date('2025-03-10T12:00:00.000Z');
const created: JobEvent = {
  type: 'JobCreated',
  data: { jobId: 'j1', name: 'n', description: null, createdAt: now.toISOString() },
};
const archive: JobCommand = { type: 'ArchiveJob', data: { jobId: 'j1' }, metadata: { now } };
const archived: JobEvent = { type: 'JobArchived', data: { jobId: 'j1', archivedAt: now.toISOString() } };
const spec = DeciderSpecification.for(jobDecider);

describe('DeciderSpecification', () => {
  describe('When the decider does what is expected', () => {
    it('should pass then, thenNothing and thenThrows', () => {
      spec.given(created).when(archive).then([archived]);
      spec.given([created, archived]).when(archive).thenNothing();
      spec.given([]).when(archive).thenThrows(domainError('JOB.NOT_FOUND', 'not_found'));
    });
  });

  describe('When the decider does something else', () => {
    it('should fail then on different events', () => {
      expect(() => spec.given([created, archived]).when(archive).then(archived)).toThrow();
    });

    it('should fail thenNothing when events are recorded', () => {
      expect(() => spec.given(created).when(archive).thenNothing()).toThrow();
    });

    it('should fail thenThrows when the command is accepted', () => {
      expect(() =>
        spec
          .given(created)
          .when(archive)
          .thenThrows(() => true),
      ).toThrow(/was accepted/);
    });

    it('should fail thenThrows on another error', () => {
      expect(() => spec.given([]).when(archive).thenThrows(domainError('JOB.ARCHIVED'))).toThrow(
        /JOB.NOT_FOUND/,
      );
    });
  });

  describe('When matching domain errors', () => {
    it('should check code, kind and fields', () => {
      const error = conflict('JOB.ARCHIVED', 'archived');
      expect(domainError('JOB.ARCHIVED')(error)).toBe(true);
      expect(domainError('JOB.ARCHIVED', 'invalid')(error)).toBe(false);
      expect(domainError('JOB.ARCHIVED', 'conflict', ['name'])(error)).toBe(false);
      expect(domainError('JOB.ARCHIVED')(new Error('JOB.ARCHIVED'))).toBe(false);
    });
  });
});
