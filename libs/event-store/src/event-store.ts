import { Event, EventEnvelope, EventMetadata } from '@cronicorn/events';
import type { PoolClient } from 'pg';

/**
 * The version a stream must be at for an append to succeed: a number (0 = the stream must
 * not exist yet) or `any` to skip the check.
 */
export type ExpectedVersion = number | 'any';

export interface AppendOptions {
  expectedVersion: ExpectedVersion;
  metadata: EventMetadata;
  /** Run inside the caller's transaction (it commits); otherwise the store opens its own. */
  client?: PoolClient;
}

export interface AppendResult {
  /** Version of the stream after the append. */
  nextExpectedVersion: number;
  /** The stored events, with ids, versions and global positions. */
  envelopes: EventEnvelope[];
  /** Global position of the last appended event (decimal string: it is a bigint). */
  lastPosition: string;
}

/**
 * A place in the global log, in commit order. Positions alone are not enough: a bigserial is
 * drawn before commit, so a transaction can commit a smaller position after a larger one.
 * The log is therefore ordered by (transactionId, position) and read only below the oldest
 * transaction still in flight (`pg_snapshot_xmin`).
 */
export interface LogCheckpoint {
  transactionId: string;
  position: string;
}

export const LOG_START: LogCheckpoint = { transactionId: '0', position: '0' };

export interface ReadStreamOptions {
  fromVersion?: number;
  /** Only events that occurred at or before this instant (`GET …/state?asOf=`). */
  asOf?: Date;
}

export interface ReadAllResult {
  events: EventEnvelope[];
  /** Where to continue from; equal to the input when nothing new is visible. */
  checkpoint: LogCheckpoint;
}
