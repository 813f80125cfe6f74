import { Logger } from '@nestjs/common';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { NatsNames } from '@cronicorn/events';
import { connectNats, provisionStreams, retireConsumer } from '@cronicorn/messaging';
import type { DependencyCheck } from './database.runtime';
import { deferred, Deferred, describeError, retryUntilSuccess, withTimeout } from './retry';

/** A live NATS connection with its JetStream clients; streams are provisioned. */
export interface NatsHandle {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: NatsNames;
}

/**
 * Owns the app's NATS connection. `start()` connects and provisions the streams in the
 * background, retrying while NATS is unreachable; if the connection later closes for good
 * (the client gave up reconnecting), it starts over, and `ready` then waits for the new one.
 * Long-running consumers should take `await nats.ready` at the top of their outer loop.
 */
export class NatsRuntime {
  private readonly log = new Logger('NATS');
  private current: NatsHandle | null = null;
  private next: Deferred<NatsHandle> = deferred<NatsHandle>();
  private readonly abort = new AbortController();
  private stopping = false;

  constructor(
    private readonly url: string,
    private readonly clientName: string,
    readonly names: NatsNames,
  ) {}

  get ready(): Promise<NatsHandle> {
    return this.current ? Promise.resolve(this.current) : this.next.promise;
  }

  get handle(): NatsHandle | null {
    return this.current;
  }

  start(): void {
    void retryUntilSuccess(() => this.connect(), {
      what: `NATS at ${this.url}`,
      signal: this.abort.signal,
      onRetry: (m) => this.log.warn(m),
    }).then((handle) => {
      if (!handle) return;
      if (this.stopping) {
        void handle.nc.close();
        return;
      }
      this.current = handle;
      this.log.log(
        `connected to ${handle.nc.getServer()}; streams ${handle.names.eventsStream}, ${handle.names.dispatchStream} ready`,
      );
      this.next.resolve(handle);
      void handle.nc.closed().then((error) => {
        if (this.stopping) return;
        this.log.error(`connection closed${error ? `: ${describeError(error)}` : ''}; reconnecting`);
        this.current = null;
        this.next = deferred<NatsHandle>();
        this.start();
      });
    });
  }

  private async connect(): Promise<NatsHandle> {
    const nc = await connectNats(this.url, this.clientName);
    try {
      const jsm = await jetstreamManager(nc);
      await provisionStreams(jsm, this.names);
      return { nc, jsm, js: jetstream(nc), names: this.names };
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
  }

  /** Round trip to the server within `timeoutMs`. */
  async check(timeoutMs = 1500): Promise<DependencyCheck> {
    const handle = this.current;
    if (!handle) return { ok: false, error: this.stopping ? 'closed' : 'not connected yet' };
    if (handle.nc.isClosed()) return { ok: false, error: 'connection closed' };
    try {
      await withTimeout(handle.nc.flush(), timeoutMs, 'NATS flush');
      return { ok: true };
    } catch (error) {
      return { ok: false, error: describeError(error) };
    }
  }

  /** Drains the connection: pending publishes are sent, subscriptions finish. */
  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.abort.abort();
    const handle = this.current;
    this.current = null;
    if (!handle || handle.nc.isClosed()) return;
    await withTimeout(handle.nc.drain(), 5000, 'NATS drain').catch(async (error: unknown) => {
      this.log.warn(`drain failed (${describeError(error)}); closing`);
      await handle.nc.close().catch(() => undefined);
    });
  }
}

/**
 * Deletes a durable consumer of the events stream that this release no longer reads (ADR
 * 0031): an upgraded deployment still has it, and its backlog only grows. Never throws: a
 * failure is logged and the next start tries again.
 */
export async function retireEventsConsumer(
  handle: NatsHandle,
  durable: string,
  why: string,
  log: Pick<Logger, 'log' | 'warn'>,
): Promise<void> {
  try {
    if (await retireConsumer(handle.jsm, handle.names.eventsStream, durable))
      log.log(`removed the retired JetStream consumer "${durable}" (${why})`);
  } catch (error) {
    log.warn(`cannot remove the retired consumer "${durable}" (${describeError(error)}); next start`);
  }
}
