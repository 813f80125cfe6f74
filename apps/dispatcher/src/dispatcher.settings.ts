import { integerFrom } from '@cronicorn/platform';
/** How the dispatcher consumes `CRONICORN_DISPATCH`; read from the environment once at boot. */
export interface DispatcherSettings {
  /** Durable consumer shared by every replica. */
  durable: string;
  /**
   * Runs in flight per replica (`DISPATCHER_CONCURRENCY`, default 1024). A run holds its slot
   * through two appends as well as the call, so under load the commits, not the calls, use
   * most of it: on the bench machine 64 slots capped one replica near 320 runs/s, 256 let the
   * pickup reach seconds, 1024 kept it under half a second (docs/performance.md).
   */
  concurrency: number;
  /**
   * `RunStarted` / `RunFinished` appends in one shared transaction
   * (`DISPATCHER_APPEND_BATCH`, default 64), and such transactions at once
   * (`DISPATCHER_APPEND_CONCURRENCY`, default 2).
   */
  appendBatch: number;
  appendConcurrency: number;
  /**
   * A delivery not acknowledged (nor kept alive with `working()`) within this long is handed
   * to another replica (`DISPATCHER_ACK_WAIT_MS`, default 30 s).
   */
  ackWaitMs: number;
  /** `working()` interval for held work items: a third of `ackWaitMs`, so two beats may be lost. */
  heartbeatMs: number;
  /**
   * Deliveries of one work item before it is dead-lettered (`DISPATCHER_MAX_DELIVER`,
   * default 1000). Deliberately large: a delivery fails only when Postgres or NATS is away,
   * and the item must stay queued through such an outage. With the retry delay capped at
   * 30 s this rides out hours. Crash loops are bounded by `maxRunAttempts` instead.
   */
  maxDeliver: number;
  /**
   * Deliveries that may begin the call of one run (`DISPATCHER_MAX_RUN_ATTEMPTS`, default 5).
   * Counted from the `RunStarted` events in Postgres; when they are used up without a
   * `RunFinished` the run is recorded as failed instead of called again.
   */
  maxRunAttempts: number;
  /** Redelivery delay after a failed delivery (Postgres down): `baseMs` doubling to `maxMs`. */
  retryDelay: { baseMs: number; maxMs: number };
}

export function dispatcherSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): DispatcherSettings {
  const ackWaitMs = integerFrom(env, 'DISPATCHER_ACK_WAIT_MS', 30_000, { min: 300 });
  return {
    durable: 'dispatcher',
    concurrency: integerFrom(env, 'DISPATCHER_CONCURRENCY', 1024, { min: 1 }),
    appendBatch: integerFrom(env, 'DISPATCHER_APPEND_BATCH', 64, { min: 1 }),
    appendConcurrency: integerFrom(env, 'DISPATCHER_APPEND_CONCURRENCY', 2, { min: 1 }),
    ackWaitMs,
    heartbeatMs: Math.floor(ackWaitMs / 3),
    maxDeliver: integerFrom(env, 'DISPATCHER_MAX_DELIVER', 1_000, { min: 1 }),
    maxRunAttempts: integerFrom(env, 'DISPATCHER_MAX_RUN_ATTEMPTS', 5, { min: 1 }),
    retryDelay: { baseMs: 1_000, maxMs: 30_000 },
  };
}
