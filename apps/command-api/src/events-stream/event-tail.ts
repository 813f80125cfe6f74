import type { EventStore, LogCheckpoint } from '@cronicorn/event-store';
import type { EventEnvelope } from '@cronicorn/events';
import { backoffMs, errorFields, MessagingLogger, sleep, Wakeup } from '@cronicorn/messaging';
import { sseComment, sseEvent } from './sse';

export interface EventTailOptions {
  store: Pick<EventStore, 'readAll'>;
  tenantId: string;
  /** Events after this checkpoint (in commit order) are sent. */
  from: LogCheckpoint;
  /** Writes one frame; resolves when the transport can take more (backpressure). */
  write: (frame: string) => Promise<void>;
  /** Aborted when the client went away or the app stops. */
  signal: AbortSignal;
  /** Woken when the tenant's events may have committed (NATS); polled otherwise. */
  wakeup: Wakeup;
  /** Current poll interval (it depends on whether a wake-up subscription is live). */
  pollMs: () => number;
  heartbeatMs: number;
  batchSize: number;
  logger: MessagingLogger;
  /** The tail ends after sending an event for which this is true (the caller's key revoked). */
  endsAfter?: (envelope: EventEnvelope) => boolean;
}

/**
 * Sends one tenant's events in commit order from a checkpoint, then each new one as it
 * commits, until the signal aborts. Every event is read from the store by checkpoint
 * (`readAll` below the oldest open transaction): a wake-up only says "read now", so a lost
 * or early wake-up costs latency, never an event, and nothing is sent twice.
 */
export class EventTail {
  private checkpoint: LogCheckpoint;
  /** Writes the transport has not taken yet. */
  private writing = 0;
  /** An event matched `endsAfter`. */
  private ended = false;

  constructor(private readonly options: EventTailOptions) {
    this.checkpoint = options.from;
  }

  /** Where the next read starts (after the last event sent). */
  get position(): LogCheckpoint {
    return this.checkpoint;
  }

  async run(): Promise<void> {
    const { signal } = this.options;
    // Only while nothing is waiting for the client: a client that stops reading would otherwise
    // collect a queued heartbeat (and its drain listeners) every interval, for as long as it stays.
    const heartbeat = setInterval(() => {
      if (this.writing === 0) void this.write(sseComment('heartbeat')).catch(() => undefined);
    }, this.options.heartbeatMs);
    let failures = 0;
    try {
      while (!signal.aborted && !this.ended) {
        let more: boolean;
        try {
          more = await this.sendPage();
          failures = 0;
        } catch (err) {
          failures += 1;
          this.options.logger.warn(
            { tenantId: this.options.tenantId, attempt: failures, ...errorFields(err) },
            'event stream read failed; retrying',
          );
          await sleep(backoffMs(failures, 500, 10_000), signal);
          continue;
        }
        // Checked here: Wakeup.wait only listens for an abort that happens while it waits.
        if (!more && !signal.aborted && !this.ended)
          await this.options.wakeup.wait(this.options.pollMs(), signal);
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async write(frame: string): Promise<void> {
    this.writing += 1;
    try {
      await this.options.write(frame);
    } finally {
      this.writing -= 1;
    }
  }

  /** Sends the next page; true when more is waiting. */
  private async sendPage(): Promise<boolean> {
    const { events, checkpoint, more } = await this.options.store.readAll(this.checkpoint, {
      tenantId: this.options.tenantId,
      limit: this.options.batchSize,
    });
    for (const envelope of events) {
      if (this.options.signal.aborted) return false;
      await this.write(sseEvent(envelope));
      if (this.options.endsAfter?.(envelope)) {
        this.ended = true;
        return false;
      }
    }
    this.checkpoint = checkpoint;
    return more;
  }
}
