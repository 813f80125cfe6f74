import { integerFrom } from '@cronicorn/platform';
import type { TargetPolicy } from '../http/target-guard';

/** How the dispatcher delivers webhooks; read from the environment once at boot. */
export interface WebhookSettings {
  /** Row of the log tail's checkpoint in `consumer_checkpoints` and name of its leader lock. */
  tailName: string;
  /** Deadline of one POST, connect to last body byte (`WEBHOOK_TIMEOUT_MS`, default 10 s). */
  timeoutMs: number;
  /** Attempts per delivery before it is `failed` (`WEBHOOK_MAX_ATTEMPTS`, default 9). */
  maxAttempts: number;
  /**
   * Wait after failed attempt n (1-based); the last entry repeats. Default 5 s, 30 s, 2 min,
   * 10 min, 1 h, 2 h, 4 h, 8 h: nine attempts span about 15 hours.
   */
  backoffMs: readonly number[];
  /** Up to this much random extra wait per retry, as a fraction of it (spreads a burst). */
  jitter: number;
  /** A `Retry-After` (429/503) up to this long is honoured when it is longer than the backoff. */
  maxRetryAfterMs: number;
  /** POSTs in flight per replica (`WEBHOOK_CONCURRENCY`, default 16). */
  concurrency: number;
  /**
   * POSTs in flight to one subscription, over every replica (`WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION`,
   * default 4): a slow receiver with a backlog holds at most this many of the slots.
   */
  concurrencyPerSubscription: number;
  /**
   * Failed calls in a row after which a subscription's circuit opens (`WEBHOOK_CIRCUIT_FAILURES`,
   * default 5): its deliveries are not sent for a cool-off, then one call probes the receiver.
   */
  circuitFailures: number;
  /** The first cool-off; it doubles with every failed probe up to `circuitMaxCooloffMs`. Default 30 s. */
  circuitCooloffMs: number;
  /** Default 5 min. */
  circuitMaxCooloffMs: number;
  /**
   * A claimed delivery not recorded within this long is claimed again by any replica. The loop
   * uses at least twice `timeoutMs` plus a margin, so that a call still running is never sent twice.
   */
  leaseMs: number;
  /** How often to look for due deliveries when nothing woke the loop. Default 1 s. */
  pollMs: number;
  /** Finished deliveries (and their attempts) are deleted after this long. Default 7 days. */
  retentionMs: number;
  /** How often the log tail reads when no append woke it. Default 1 s. */
  tailPollMs: number;
  /** The SSRF policy; default: the dispatcher's (`ALLOW_PRIVATE_TARGETS`, `ALLOWED_TARGET_ADDRESSES`). */
  targetPolicy?: TargetPolicy;
}

export function webhookSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookSettings {
  return {
    tailName: 'webhooks',
    timeoutMs: integerFrom(env, 'WEBHOOK_TIMEOUT_MS', 10_000, { min: 1 }),
    maxAttempts: integerFrom(env, 'WEBHOOK_MAX_ATTEMPTS', 9, { min: 1 }),
    backoffMs: [5_000, 30_000, 120_000, 600_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000],
    jitter: 0.1,
    maxRetryAfterMs: 3_600_000,
    concurrency: integerFrom(env, 'WEBHOOK_CONCURRENCY', 16, { min: 1 }),
    concurrencyPerSubscription: integerFrom(env, 'WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION', 4, { min: 1 }),
    circuitFailures: integerFrom(env, 'WEBHOOK_CIRCUIT_FAILURES', 5, { min: 1 }),
    circuitCooloffMs: 30_000,
    circuitMaxCooloffMs: 300_000,
    leaseMs: 60_000,
    pollMs: 1_000,
    retentionMs: 7 * 24 * 3_600_000,
    tailPollMs: 1_000,
  };
}

/** The wait after failed attempt `attempt` (1-based), before jitter and Retry-After. */
export function baseRetryDelayMs(settings: Pick<WebhookSettings, 'backoffMs'>, attempt: number): number {
  const schedule = settings.backoffMs;
  if (schedule.length === 0) return 0;
  return schedule[Math.min(Math.max(1, attempt), schedule.length) - 1];
}
