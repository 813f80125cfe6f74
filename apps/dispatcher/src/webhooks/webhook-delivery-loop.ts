import type { SecretBox } from '@cronicorn/platform';
import { backoffMs, errorFields, MessagingLogger, sleep, Wakeup } from '@cronicorn/messaging';
import type { Pool } from 'pg';
import type { HttpExecutor, RunOutcome } from '../http/http-executor';
import { webhookHeaders } from './webhook-signature';
import { baseRetryDelayMs, WebhookSettings } from './webhooks.settings';

/** How one attempt ended. */
export type AttemptOutcome = 'delivered' | 'retry' | 'failed' | 'cancelled';

/** Optional hooks for metrics and tests. */
export interface WebhookDeliveryMetrics {
  onAttempt?(outcome: AttemptOutcome, durationMs: number): void;
}

export interface WebhookDeliveryLoopOptions {
  pool: Pool;
  executor: HttpExecutor;
  /** Decrypts subscription secrets; null without SECRETS_KEY (then nothing can be signed). */
  secretBox: SecretBox | null;
  settings: Pick<
    WebhookSettings,
    | 'timeoutMs'
    | 'maxAttempts'
    | 'backoffMs'
    | 'jitter'
    | 'maxRetryAfterMs'
    | 'concurrency'
    | 'leaseMs'
    | 'pollMs'
    | 'retentionMs'
  >;
  /** Lease owner name of this replica. */
  owner: string;
  logger: MessagingLogger;
  metrics?: WebhookDeliveryMetrics;
  random?: () => number;
}

interface ClaimedRow {
  delivery_id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  body: string;
  attempts: number;
  url: string;
  secret: string;
  deleted: boolean;
}

const PRUNE_EVERY_MS = 10 * 60_000;
const PRUNE_BATCH = 1_000;
/** Batches per round of the loop; a bigger backlog is pruned on by the following rounds. */
const PRUNE_BATCHES_PER_ROUND = 20;
/** Lease beyond the longest call (a stale-socket retry makes two) for claiming and recording. */
const LEASE_MARGIN_MS = 15_000;
const MAX_ERROR_LENGTH = 500;

/**
 * Delivers queued webhooks: claims due rows with `FOR UPDATE SKIP LOCKED` (graphile-worker's
 * `getJobs`), moving their `next_attempt_at` past a lease so that a replica that dies mid-call
 * only delays the delivery. Each POST goes through the dispatcher's HttpExecutor and its
 * TargetGuard (SSRF rules, timeout, bounded response read). Every attempt is logged; a
 * non-2xx answer or a failure is retried with backoff until `maxAttempts`, then the delivery
 * is `failed`. At least once: a lease that expires during a slow call, or a crash after the
 * call, sends the event again, and receivers deduplicate by `cronicorn-event-id`.
 */
export class WebhookDeliveryLoop {
  private readonly wakeup = new Wakeup();
  private readonly stopController = new AbortController();
  private running: Promise<void> | null = null;
  private lastPrune = 0;
  /**
   * Never shorter than a call can take (`WEBHOOK_TIMEOUT_MS` has no upper bound): a lease that
   * expires while the receiver is still answering lets another replica send the event again.
   */
  private readonly leaseMs: number;

  constructor(private readonly options: WebhookDeliveryLoopOptions) {
    const { leaseMs, timeoutMs } = options.settings;
    this.leaseMs = Math.max(leaseMs, 2 * timeoutMs + LEASE_MARGIN_MS);
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops claiming, lets the calls in flight finish and be recorded, then returns. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
  }

  /** Look for due deliveries now (new ones were queued). */
  wake(): void {
    this.wakeup.wake();
  }

  /**
   * Claims due deliveries and makes their attempts; returns how many it attempted. One
   * batch: call it again while it returns a full batch.
   */
  async deliverDue(): Promise<number> {
    const claimed = await this.claim(this.options.settings.concurrency);
    // Settled, not all: a failure to record one attempt must not end the round (and let the loop
    // claim more, or stop) while the other calls are still in flight.
    const results = await Promise.allSettled(claimed.map((row) => this.attempt(row)));
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
    return claimed.length;
  }

  private async run(): Promise<void> {
    const signal = this.stopController.signal;
    let failures = 0;
    while (!signal.aborted) {
      let attempted = 0;
      try {
        attempted = await this.deliverDue();
        await this.pruneIfDue();
        failures = 0;
      } catch (err) {
        failures += 1;
        this.options.logger.warn(
          { attempt: failures, ...errorFields(err) },
          'webhook delivery loop failed; retrying',
        );
        await sleep(backoffMs(failures, 500, 15_000), signal);
        continue;
      }
      // Checked here: Wakeup.wait only listens for an abort that happens while it waits.
      if (attempted < this.options.settings.concurrency && !signal.aborted)
        await this.wakeup.wait(this.options.settings.pollMs, signal);
    }
  }

  private async claim(limit: number): Promise<ClaimedRow[]> {
    const { rows } = await this.options.pool.query<ClaimedRow>(
      `WITH due AS (
         SELECT delivery_id FROM webhook_deliveries
          WHERE state = 'pending' AND next_attempt_at <= now()
          ORDER BY next_attempt_at, delivery_id
          LIMIT $1
          FOR UPDATE SKIP LOCKED
       )
       UPDATE webhook_deliveries d
          SET lease_owner = $2,
              lease_until = now() + $3::bigint * interval '1 millisecond',
              next_attempt_at = now() + $3::bigint * interval '1 millisecond'
         FROM due, webhook_subscriptions s
        WHERE d.delivery_id = due.delivery_id AND s.subscription_id = d.subscription_id
       RETURNING d.delivery_id, d.subscription_id, d.event_id, d.event_type, d.body, d.attempts,
                 s.url, s.secret, s.deleted_at IS NOT NULL AS deleted`,
      [limit, this.options.owner, this.leaseMs],
    );
    return rows;
  }

  private async attempt(row: ClaimedRow): Promise<void> {
    const attempt = row.attempts + 1;
    if (row.deleted) {
      await this.record(row, attempt, {
        outcome: 'cancelled',
        statusCode: null,
        error: 'subscription deleted',
        durationMs: 0,
        retryInMs: null,
      });
      return;
    }
    const started = performance.now();
    let outcome: RunOutcome | null = null;
    let error: string | null = null;
    try {
      if (!this.options.secretBox) throw new Error('SECRETS_KEY is not configured: cannot sign the delivery');
      const secret = this.options.secretBox.decrypt(row.secret);
      const timestamp = Math.floor(Date.now() / 1000);
      outcome = await this.options.executor.execute(
        {
          url: row.url,
          method: 'POST',
          headers: webhookHeaders(secret, { id: row.event_id, type: row.event_type }, timestamp, row.body),
          secretHeaders: {},
          body: row.body,
          timeoutMs: this.options.settings.timeoutMs,
          maxAttempts: 1,
        },
        { maxResponseBytes: 4 * 1024, snippetBytes: 256 },
      );
      error = outcome.error;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const durationMs = Math.round(performance.now() - started);
    const statusCode = outcome?.httpStatus ?? null;
    if (outcome?.status === 'success') {
      await this.record(row, attempt, {
        outcome: 'delivered',
        statusCode,
        error: null,
        durationMs,
        retryInMs: null,
      });
      return;
    }
    const last = attempt >= this.options.settings.maxAttempts;
    await this.record(row, attempt, {
      outcome: last ? 'failed' : 'retry',
      statusCode,
      error: (error ?? `HTTP ${statusCode}`).slice(0, MAX_ERROR_LENGTH),
      durationMs,
      retryInMs: last ? null : this.retryDelay(attempt, outcome?.retryAfterMs ?? null),
    });
  }

  private retryDelay(attempt: number, retryAfterMs: number | null): number {
    const { jitter, maxRetryAfterMs } = this.options.settings;
    const base = baseRetryDelayMs(this.options.settings, attempt);
    const jittered = Math.round(base * (1 + jitter * (this.options.random ?? Math.random)()));
    return retryAfterMs === null ? jittered : Math.max(jittered, Math.min(retryAfterMs, maxRetryAfterMs));
  }

  /**
   * Logs the attempt and settles the delivery, in one transaction. The delivery is only
   * updated while this replica still holds its lease and it is pending; the attempt is logged
   * either way (a second replica's copy of the same attempt number is dropped).
   */
  private async record(
    row: ClaimedRow,
    attempt: number,
    result: {
      outcome: AttemptOutcome;
      statusCode: number | null;
      error: string | null;
      durationMs: number;
      retryInMs: number | null;
    },
  ): Promise<void> {
    const client = await this.options.pool.connect();
    try {
      await client.query('BEGIN');
      const nextAttempt = result.retryInMs;
      await client.query(
        `INSERT INTO webhook_delivery_attempts
           (delivery_id, attempt, subscription_id, event_id, event_type, outcome, status_code, error,
            duration_ms, attempted_at, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::integer,
                 now() - $9::integer * interval '1 millisecond',
                 now() + $10::bigint * interval '1 millisecond')
         ON CONFLICT (delivery_id, attempt) DO NOTHING`,
        [
          row.delivery_id,
          attempt,
          row.subscription_id,
          row.event_id,
          row.event_type,
          result.outcome,
          result.statusCode,
          result.error,
          result.durationMs,
          nextAttempt,
        ],
      );
      await client.query(
        `UPDATE webhook_deliveries
            SET attempts = $3,
                state = CASE $4::text WHEN 'retry' THEN 'pending' ELSE $4::text END,
                next_attempt_at = now() + $5::bigint * interval '1 millisecond',
                finished_at = CASE $4::text WHEN 'retry' THEN NULL ELSE now() END,
                last_status_code = $6,
                last_error = $7,
                lease_owner = NULL,
                lease_until = NULL
          WHERE delivery_id = $1 AND lease_owner = $2 AND state = 'pending'`,
        [
          row.delivery_id,
          this.options.owner,
          attempt,
          result.outcome,
          nextAttempt,
          result.statusCode,
          result.error,
        ],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    this.options.metrics?.onAttempt?.(result.outcome, result.durationMs);
    if (result.outcome === 'failed') {
      this.options.logger.warn(
        {
          subscriptionId: row.subscription_id,
          eventId: row.event_id,
          attempts: attempt,
          error: result.error,
        },
        'webhook delivery failed for good',
      );
    }
  }

  /**
   * Deletes finished deliveries past retention, a batch at a time, every few minutes; while
   * more are left than a round deletes, every round of the loop goes on with them.
   */
  private async pruneIfDue(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    // Set first: a prune that fails waits for the next interval, not the next round.
    this.lastPrune = now;
    for (let batch = 0; batch < PRUNE_BATCHES_PER_ROUND; batch++) {
      const { rowCount } = await this.options.pool.query(
        `DELETE FROM webhook_deliveries WHERE delivery_id IN (
           SELECT delivery_id FROM webhook_deliveries
            WHERE state <> 'pending' AND finished_at < now() - $1::bigint * interval '1 millisecond'
            LIMIT $2)`,
        [this.options.settings.retentionMs, PRUNE_BATCH],
      );
      if ((rowCount ?? 0) < PRUNE_BATCH) return;
    }
    this.lastPrune = 0;
  }
}
