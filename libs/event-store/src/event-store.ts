import { Event, EventEnvelope, EventMetadata, StreamCategory } from '@cronicorn/events';
import type { PoolClient } from 'pg';

/**
 * The version a stream must be at for an append to succeed: a number (0 = the stream must
 * not exist yet) or `any` to skip the check.
 */
export type ExpectedVersion = number | 'any';

export interface AppendOptions {
  expectedVersion: ExpectedVersion;
  metadata: EventMetadata;
  /**
   * Run inside the caller's transaction (it commits); otherwise the store opens its own. After
   * any error, including ConcurrencyError, the caller must roll back.
   */
  client?: PoolClient;
  /** When the events happened; defaults to the database clock. Pass the app's clock in tests. */
  occurredAt?: Date;
}

/** One stream's share of an `appendMany`. `metadata` and `occurredAt` override the batch's. */
export interface AppendManyItem {
  streamId: string;
  events: readonly Event[];
  expectedVersion: ExpectedVersion;
  metadata?: EventMetadata;
  occurredAt?: Date;
}

export interface AppendManyOptions {
  metadata?: EventMetadata;
  client?: PoolClient;
  occurredAt?: Date;
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
  /** First stream version to return (inclusive). */
  fromVersion?: number;
  /**
   * The stream as it stood at this instant (`GET …/state?asOf=`): the events before the first
   * one that occurred after it.
   */
  asOf?: Date;
}

export interface ReadAllResult {
  events: EventEnvelope[];
  /**
   * Where to continue from; never behind the input. With filters it can move past events that
   * did not match, so a filtered reader does not rescan them.
   */
  checkpoint: LogCheckpoint;
  /**
   * More can be read at once: the page was full, or a filtered read reached the end of the
   * window of log entries it looks at per call (10 times its limit) before filling its page.
   * False: the reader has caught up with the log (or with `occurredUpTo`).
   */
  more: boolean;
}

export interface ReadAllOptions {
  /** Most events to return; default 500. */
  limit?: number;
  tenantId?: string;
  streamId?: string;
  types?: readonly string[];
  /** Stream categories (`endpoint`, `run`, …): the part of the stream id before the first dash. */
  categories?: readonly StreamCategory[];
  /**
   * Stop before the first event that occurred after this instant: the page ends there and the
   * checkpoint stays in front of it, so a later read returns it.
   */
  occurredUpTo?: Date;
  /**
   * With `occurredUpTo`: events dated after this instant do not stop the page. Their
   * appender's clock runs ahead, and waiting for their date would hold the reader back as long.
   */
  datedAheadAfter?: Date;
  /**
   * Only events the event consumer of this name has not recorded as handled (a lower stream
   * version in its `consumer_stream_versions`); the checkpoint still moves over the others.
   */
  unhandledBy?: string;
  /**
   * Only events of these tenants; an empty list matches none (the checkpoint moves to the
   * newest visible event).
   */
  tenantIds?: readonly string[];
  /**
   * Read on this client, inside its transaction: at REPEATABLE READ the page is cut at the
   * transaction's snapshot, the one its other reads saw.
   */
  client?: PoolClient;
}

/** Name of the Postgres NOTIFY channel pinged by every commit that appends events. */
export const EVENTS_NOTIFY_CHANNEL = 'cronicorn_events';

/** The event log: optimistic appends per stream, stream reads and a commit-safe global read. */
export interface EventStore {
  append(streamId: string, events: readonly Event[], options: AppendOptions): Promise<AppendResult>;
  /** Appends to several streams in one transaction: all of them or none. */
  appendMany(batch: readonly AppendManyItem[], options?: AppendManyOptions): Promise<AppendResult[]>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<EventEnvelope[]>;
  /** Current version of a stream; 0 when it does not exist. */
  streamVersion(streamId: string): Promise<number>;
  readAll(after: LogCheckpoint, options?: ReadAllOptions): Promise<ReadAllResult>;
  /**
   * The checkpoint of the event at `position` (reading after it continues with the next event
   * in log order), or null when there is no such event. Meant for positions that came out of
   * `readAll`; an append's own position may still have in-flight transactions ordered before it.
   */
  checkpointOfPosition(position: string): Promise<LogCheckpoint | null>;
  /** The checkpoint of the newest event readers can see now (LOG_START on an empty log). */
  headCheckpoint(): Promise<LogCheckpoint>;
}
