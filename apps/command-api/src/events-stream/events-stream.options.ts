/** Tuning of `GET /v1/events/stream`. */
export interface EventsStreamOptions {
  /** Comment line sent this often so proxies keep the stream open. Default 15 s. */
  heartbeatMs: number;
  /**
   * Store poll interval while a NATS wake-up subscription is live (a safety net: a wake-up
   * can be lost). Default 5 s.
   */
  pollMs: number;
  /** Poll interval without NATS. Default 1 s. */
  pollWithoutNatsMs: number;
  /** Events per store read. Default 500. */
  batchSize: number;
  /** `retry:` sent to clients: their reconnection delay. Default 3 s. */
  retryMs: number;
  /**
   * A client whose buffers stay full this long has stopped reading: it is disconnected rather
   * than kept (with its socket and NATS subscription) for good. Default 60 s.
   */
  stallTimeoutMs: number;
}

export const DEFAULT_EVENTS_STREAM_OPTIONS: EventsStreamOptions = {
  heartbeatMs: 15_000,
  pollMs: 5_000,
  pollWithoutNatsMs: 1_000,
  batchSize: 500,
  retryMs: 3_000,
  stallTimeoutMs: 60_000,
};

export const EVENTS_STREAM_OPTIONS = Symbol('EVENTS_STREAM_OPTIONS');
