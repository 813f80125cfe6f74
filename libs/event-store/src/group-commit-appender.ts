import { Event } from '@cronicorn/events';
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
 * appends (one per stream); when idle, an append goes at once. A shared transaction fails as a
 * whole (one caller's `ConcurrencyError` rolls back everyone's), so its appends are then made
 * one per transaction and each caller gets its own outcome.
 */
export class GroupCommitAppender implements Pick<EventStore, 'append'> {
  private readonly queue: Pending[] = [];
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
    if (options.client) return this.store.append(streamId, events, options);
    const { expectedVersion, metadata, occurredAt } = options;
    return new Promise((resolve, reject) => {
      this.queue.push({ item: { streamId, events, expectedVersion, metadata, occurredAt }, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.running += 1;
      void this.commit(batch).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  /** Up to `maxBatch` queued appends in arrival order, one per stream (a second waits its turn). */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const streams = new Set<string>();
    const rest: Pending[] = [];
    for (const pending of this.queue) {
      if (batch.length < this.maxBatch && !streams.has(pending.item.streamId)) {
        batch.push(pending);
        streams.add(pending.item.streamId);
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
      } catch {
        // One of them fails: each alone, so that only its caller sees the error.
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
