import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import type { EventStore, LogCheckpoint } from '@cronicorn/event-store';
import type { ApiKeyRevoked } from '@cronicorn/events';
import { Wakeup } from '@cronicorn/messaging';
import { EVENT_STORE, NatsRuntime, nestMessagingLogger } from '@cronicorn/platform';
import type { Response } from 'express';
import { ApiError, ErrorCodes } from '../common/api-error';
import { API_OPTIONS, ApiOptions } from '../common/api-options';
import { EventTail } from './event-tail';
import { EVENTS_STREAM_OPTIONS, EventsStreamOptions } from './events-stream.options';
import { sseComment, sseId, sseRetry } from './sse';

/**
 * The open `GET /v1/events/stream` connections of this replica.
 *
 * Wake-ups come from core NATS: a subscription on the tenant's subjects
 * (`<prefix>.<tenantId>.>`, no JetStream consumer). The outbox relay publishes an event only
 * after reading it from the store below the oldest open transaction, so when its message
 * arrives the event is readable by `readAll` too. Events themselves are always read from the
 * store by checkpoint, never taken from the message: NATS may lose or repeat messages, the
 * log does neither. Without NATS the stream polls the store.
 */
@Injectable()
export class EventsStreamService implements BeforeApplicationShutdown {
  private readonly logger = nestMessagingLogger('EventsStream');
  private readonly open = new Map<AbortController, Promise<void>>();
  private readonly openPerTenant = new Map<string, number>();
  /** Set when shutdown began: the HTTP server waits for every open response before it closes. */
  private stopping = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly nats: NatsRuntime,
    @Inject(EVENTS_STREAM_OPTIONS) private readonly options: EventsStreamOptions,
    @Inject(API_OPTIONS) private readonly apiOptions: ApiOptions,
  ) {}

  /** Streams open on this replica. */
  get openStreams(): number {
    return this.open.size;
  }

  /**
   * Streams from `from` on `res` until the client disconnects, the app stops or the API key
   * `keyId` the stream was opened with is revoked (after sending its `ApiKeyRevoked`).
   * Throws a 429 when the tenant already has its most streams open here.
   */
  async serve(tenantId: string, keyId: string, from: LogCheckpoint, res: Response): Promise<void> {
    // The client left while the starting point was read: its `close` has been and gone.
    if (res.destroyed) return;
    const max = this.apiOptions.maxStreamsPerTenant;
    if (this.openOf(tenantId) >= max) {
      throw new ApiError(
        429,
        ErrorCodes.tooManyStreams,
        `At most ${max} event streams may be open at once per tenant; close one before opening another`,
        undefined,
        { 'Retry-After': String(Math.ceil(this.options.retryMs / 1000)) },
      );
    }
    const controller = new AbortController();
    const { signal } = controller;
    res.on('close', () => controller.abort());
    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache, no-transform');
    res.setHeader('connection', 'keep-alive');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    res.socket?.setNoDelay(true);

    const wakeup = new Wakeup();
    let subscription: Subscription | null = null;
    const subscribed = () => {
      if (subscription && !subscription.isClosed()) return true;
      const handle = this.nats.handle;
      if (!handle || handle.nc.isClosed()) return false;
      subscription = handle.nc.subscribe(`${handle.names.eventsSubjectPrefix}.${tenantId}.>`, {
        callback: () => wakeup.wake(),
      });
      return true;
    };
    const write = (frame: string) => writeFrame(res, frame, signal, this.options.stallTimeoutMs);
    const tail = new EventTail({
      store: this.store,
      tenantId,
      from,
      write,
      signal,
      wakeup,
      pollMs: () => (subscribed() ? this.options.pollMs : this.options.pollWithoutNatsMs),
      heartbeatMs: this.options.heartbeatMs,
      batchSize: this.options.batchSize,
      logger: this.logger,
      endsAfter: (event) =>
        event.type === 'ApiKeyRevoked' && (event.data as ApiKeyRevoked['data']).keyId === keyId,
    });
    const running = (async () => {
      subscribed();
      // The starting point as the client's last event id: an EventSource that reconnects before
      // any event came resumes from here (with `Last-Event-ID`) instead of from the new end.
      await write(sseRetry(this.options.retryMs) + sseId(from.position) + sseComment('connected'));
      // Opened while shutdown ended the others: ended as they were, the client reconnects.
      if (!this.stopping) await tail.run();
    })();
    // Counted with no await since the check above, so concurrent opens cannot all pass it.
    this.open.set(controller, running);
    this.openPerTenant.set(tenantId, this.openOf(tenantId) + 1);
    try {
      await running;
    } finally {
      this.open.delete(controller);
      const left = this.openOf(tenantId) - 1;
      if (left > 0) this.openPerTenant.set(tenantId, left);
      else this.openPerTenant.delete(tenantId);
      (subscription as Subscription | null)?.unsubscribe();
      // A client that stopped reading would never take the end either (and the HTTP server
      // waits for it on shutdown): drop the connection instead.
      if (res.writableNeedDrain) res.destroy();
      else if (!res.writableEnded) res.end();
    }
  }

  private openOf(tenantId: string): number {
    return this.openPerTenant.get(tenantId) ?? 0;
  }

  /** Before the HTTP server closes (it waits for open responses): end every stream. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    const running = [...this.open.entries()];
    for (const [controller] of running) controller.abort();
    await Promise.allSettled(running.map(([, done]) => done));
  }
}

/**
 * Resolves once `res` can take more, or at once when it is closed or the stream stops. A client
 * that takes nothing for `stallMs` is disconnected (which closes `res`).
 */
function writeFrame(res: Response, frame: string, signal: AbortSignal, stallMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (res.writableEnded || res.destroyed || signal.aborted) return resolve();
    if (res.write(frame)) return resolve();
    const stalled = setTimeout(() => res.destroy(), stallMs);
    const done = () => {
      clearTimeout(stalled);
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    signal.addEventListener('abort', done);
  });
}
