import { Event } from '@cronicorn/events';
import { ConcurrencyError } from './errors';
import { AppendManyItem, AppendOptions, AppendResult, EventStore } from './event-store';

export interface GroupCommitAppenderOptions {
  /** Most appends in one transaction. Default 32. */
  maxBatch?: number;
  /** Transactions at once. Default 2. */
  concurrency?: number;
}

interface Pending {
  item: AppendManyItem & { metadata: AppendOptions['metadata'] };
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Appends of many concurrent callers share transactions (group commit), so that a busy
 * appender pays one commit and one WAL flush for many appends. An append that arrives while
 * `concurrency` transactions run waits for the next one, which takes up to `maxBatch` queued
 * appends (one per stream, and none of a stream with an append in flight: a stream's appends
 * commit in order); when idle, an append goes at once. A shared transaction that fails with a
 * `ConcurrencyError` (one caller's conflict rolls back everyone's) is redone one append per
 * transaction, so each caller gets its own outcome, and so is one the server refused; any other
 * error (a lost connection: the commit's outcome is unknown) goes to every caller of the
 * batch, as it would have alone.
 */
/** An error Postgres answered with (a SQLSTATE): the transaction did not commit. */
function isServerError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

export class GroupCommitAppender implements Pick<EventStore, 'append'> {
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Set<string>();
  private running = 0;
  private readonly maxBatch: number;
  private readonly concurrency: number;

  constructor(
    private readonly store: Pick<EventStore, 'append' | 'appendMany'>,
    options: GroupCommitAppenderOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 32);
    this.concurrency = Math.max(1, options.concurrency ?? 2);
  }

  append(streamId: string, events: readonly Event[], options: AppendOptions): Promise<AppendResult> {
    // In a caller's transaction, or invalid (the store says why, to this caller alone): not batched.
    if (options.client || events.length === 0 || !options.metadata?.tenantId)
      return this.store.append(streamId, events, options);
    const { expectedVersion, metadata, occurredAt } = options;
    return new Promise((resolve, reject) => {
      this.queue.push({ item: { streamId, events, expectedVersion, metadata, occurredAt }, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      this.running += 1;
      for (const { item } of batch) this.inFlight.add(item.streamId);
      void this.commit(batch).finally(() => {
        for (const { item } of batch) this.inFlight.delete(item.streamId);
        this.running -= 1;
        this.pump();
      });
    }
  }

  /** Up to `maxBatch` queued appends in arrival order, one per stream not in flight (the others wait). */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const streams = new Set<string>();
    const rest: Pending[] = [];
    for (const pending of this.queue) {
      const { streamId } = pending.item;
      if (batch.length < this.maxBatch && !streams.has(streamId) && !this.inFlight.has(streamId)) {
        batch.push(pending);
        streams.add(streamId);
      } else {
        rest.push(pending);
      }
    }
    this.queue.splice(0, this.queue.length, ...rest);
    return batch;
  }

  private async commit(batch: Pending[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const results = await this.store.appendMany(batch.map((pending) => pending.item));
        batch.forEach((pending, i) => pending.resolve(results[i]));
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyError || isServerError(error))) {
          for (const pending of batch) pending.reject(error);
          return;
        }
        // Rolled back (one of them conflicts, or the server refused): each alone, so that only
        // its caller sees its own outcome.
      }
    }
    for (const { item, resolve, reject } of batch) {
      const { streamId, events, expectedVersion, metadata, occurredAt } = item;
      await this.store
        .append(streamId, events, { expectedVersion, metadata, occurredAt })
        .then(resolve, reject);
    }
  }
}
