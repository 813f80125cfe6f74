import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { GovernorOptions } from '@cronicorn/domain';

/** Tuning of one scheduler replica. The defaults suit production; tests shorten the budgets. */
export interface SchedulerOptions {
  /** Durable consumer of the run fold (shared by the replicas); the others add `-endpoints` and `-jobs`. */
  consumerName: string;
  /** This replica's id in `lease_owner`; unique per process. */
  owner: string;
  /** How often the due loop claims rows when nothing wakes it. */
  pollIntervalMs: number;
  /** Rows due within this much are claimed and get an in-memory timer at their exact time. */
  horizonMs: number;
  /**
   * A lease lasts until the plan's due time plus this (database clock). A replica that dies
   * holding leases delays those runs by at most this much; another then takes them over.
   */
  leaseMs: number;
  /** Transactions handing out due plans at once. */
  fireConcurrency: number;
  /** Most due plans handed out in one transaction (those that came due while others ran). */
  fireBatch: number;
  /** Rows claimed per poll. */
  claimBatch: number;
  /** How long the outbox leaves a run to the replica that is publishing it. */
  publishClaimMs: number;
  /** A dispatched run not started this long after its last publish is published again (same msgID). */
  republishAfterMs: number;
  /**
   * The lateness budget: a dispatched run not started this long after it was handed out gets
   * `RunMissed` and no longer counts as in flight. Longer than the dispatch consumer's ack wait
   * (30 s), so a dispatcher that died before `RunStarted` and a redelivery are not a miss.
   */
  missedAfterMs: number;
  /** How often the outbox looks for unpublished or unstarted runs. */
  outboxIntervalMs: number;
  /** How often dispatched runs are checked against the lateness budget. */
  missedCheckIntervalMs: number;
  /** Finished and missed runs are forgotten after this long. */
  runRetentionMs: number;
  /** Transactions at once in this replica's run fold and in its endpoint fold (spread by endpoint); the job fold uses one. */
  consumerConcurrency: number;
  /** Most events folded in one transaction by the endpoint and job folds (they lock endpoint rows). */
  consumerBatchSize: number;
  /**
   * Most events folded in one transaction by the run fold: its usual starts and finishes take
   * no endpoint lock, so larger batches cost the due loop no waiting and save commits.
   */
  runFoldBatchSize: number;
  sweepIntervalMs: number;
  governor: Partial<GovernorOptions>;
}

export const DEFAULT_SCHEDULER_OPTIONS: Omit<SchedulerOptions, 'owner'> = {
  consumerName: 'scheduler',
  pollIntervalMs: 250,
  horizonMs: 2_000,
  leaseMs: 10_000,
  fireConcurrency: 8,
  fireBatch: 8,
  claimBatch: 500,
  publishClaimMs: 5_000,
  republishAfterMs: 10_000,
  missedAfterMs: 60_000,
  outboxIntervalMs: 250,
  missedCheckIntervalMs: 1_000,
  runRetentionMs: 24 * 3_600_000,
  consumerConcurrency: 4,
  consumerBatchSize: 4,
  runFoldBatchSize: 128,
  sweepIntervalMs: 5_000,
  governor: {},
};

export function schedulerOptions(overrides: Partial<SchedulerOptions> = {}): SchedulerOptions {
  const options = {
    ...DEFAULT_SCHEDULER_OPTIONS,
    owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    ...overrides,
  };
  // A hand-out that crashed before its publish is recovered by the republish rule (ADR 0019):
  // it must come before the run counts as missed.
  if (options.republishAfterMs >= options.missedAfterMs) {
    throw new Error(
      `republishAfterMs (${options.republishAfterMs}) must be shorter than missedAfterMs (${options.missedAfterMs})`,
    );
  }
  return options;
}
