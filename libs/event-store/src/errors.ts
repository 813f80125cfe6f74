import { ExpectedVersion } from './event-store';

/**
 * The stream was not at the expected version: someone else appended first, or the caller
 * expected a version the stream has not reached. Nothing was written. Reload and decide again.
 */
export class ConcurrencyError extends Error {
  readonly code = 'EVENT_STORE.CONCURRENCY';

  constructor(
    readonly streamId: string,
    readonly expectedVersion: ExpectedVersion,
    readonly actualVersion: number,
  ) {
    super(`Stream ${streamId} is at version ${actualVersion}, expected ${expectedVersion}`);
    this.name = 'ConcurrencyError';
  }
}
