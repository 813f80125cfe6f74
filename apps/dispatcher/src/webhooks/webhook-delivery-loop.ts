import { SecretBox, withTransaction } from '@cronicorn/platform';
import { backoffMs, errorFields, MessagingLogger, sleep, Wakeup } from '@cronicorn/messaging';
import type { Pool, PoolClient } from 'pg';
import type { HttpExecutor, RunOutcome } from '../http/http-executor';
import { webhookHeaders } from './webhook-signature';
import { baseRetryDelayMs, WebhookSettings } from './webhooks.settings';

/** How one attempt ended. */
export type AttemptOutcome = 'delivered' | 'retry' | 'failed' | 'cancelled';

/** Optional hooks for metrics and tests. */
export interface WebhookDeliveryMetrics {
  onAttempt?(outcome: AttemptOutcome, durationMs: number): void;
  /** An attempt was recorded without a call: the subscription's circuit was open. */
  onNotSent?(): void;
  /** A subscription's receiver failed enough calls in a row to pause its deliveries. */
  onCircuitOpened?(): void;
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
    | 'concurrencyPerSubscription'
    | 'circuitFailures'
    | 'circuitCooloffMs'
    | 'circuitMaxCooloffMs'
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
  /** Attempts made before it was last redelivered by hand: its schedule counts from there. */
  attempts_before_redelivery: number;
  url: string;
  secret: string;
  deleted: boolean;
  /** The subscription's circuit is open until then: the delivery is not sent. */
  suspended_until: Date | null;
  consecutive_failures: number;
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
 *
 * Fair between subscriptions (ADR 0026): a slot is claimed again as soon as its call ends, one
 * subscription has at most `concurrencyPerSubscription` calls in flight over all replicas, and
 * after `circuitFailures` failed calls in a row its circuit opens: its due deliveries are
 * recorded as failed attempts without a call until the cool-off ends, then one call probes.
 */
export class WebhookDeliveryLoop {
  private readonly wakeup = new Wakeup();
  private readonly stopController = new AbortController();
  private running: Promise<void> | null = null;
  private lastPrune = 0;
  private readonly inFlight = new Set<Promise<void>>();
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
   * Claims due deliveries for the free slots and makes their attempts; returns how many it
   * attempted once they are recorded.
   */
  async deliverDue(): Promise<number> {
    const started = await this.startDue();
    // Settled, not all: a failure to record one attempt must not hide the other calls in flight.
    const results = await Promise.allSettled(started);
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
    return started.length;
  }

  /** Claims due deliveries for the free slots and starts their attempts. */
  private async startDue(): Promise<Array<Promise<void>>> {
    const free = this.options.settings.concurrency - this.inFlight.size;
    if (free <= 0) return [];
    const claimed = await this.claim(free);
    return claimed.map((row) => {
      const attempt: Promise<void> = this.attempt(row).finally(() => {
        this.inFlight.delete(attempt);
        this.wakeup.wake();
      });
      this.inFlight.add(attempt);
      return attempt;
    });
  }

  private async run(): Promise<void> {
    const signal = this.stopController.signal;
    let failures = 0;
    while (!signal.aborted) {
      const free = this.options.settings.concurrency - this.inFlight.size;
      let started = 0;
      try {
        const attempts = await this.startDue();
        started = attempts.length;
        for (const attempt of attempts) attempt.catch((err: unknown) => this.onUnrecorded(err));
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
      // A full claim may have left more due; otherwise wait for a free slot, new deliveries or
      // the poll. Checked here: Wakeup.wait only listens for an abort that happens while it waits.
      if ((free === 0 || started < free) && !signal.aborted)
        await this.wakeup.wait(this.options.settings.pollMs, signal);
    }
    await Promise.allSettled([...this.inFlight]);
  }

  /** The lease runs out and the delivery is claimed again: a late attempt, not a lost one. */
  private onUnrecorded(err: unknown): void {
    this.options.logger.warn(
      errorFields(err),
      'webhook attempt could not be recorded; it is made again when its lease ends',
    );
  }

  /**
   * Claims up to `limit` due deliveries, oldest first, at most the free calls of each
   * subscription (all due ones of a suspended one: they are not sent). The subscriptions with
   * pending deliveries are found by a loose index scan, so that one with a large backlog does
   * not hide the others; claims are serialised over the replicas so that two cannot both see a
   * subscription's calls as free.
   */
  private async claim(limit: number): Promise<ClaimedRow[]> {
    const { concurrencyPerSubscription, circuitFailures } = this.options.settings;
    return withTransaction(this.options.pool, async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('cronicorn.webhook-claim', 0))`);
      const { rows } = await client.query<ClaimedRow>({
        name: 'webhooks.claim',
        text: `WITH RECURSIVE pending AS (
             (SELECT subscription_id FROM webhook_deliveries
               WHERE state = 'pending' ORDER BY subscription_id LIMIT 1)
             UNION ALL
             SELECT (SELECT d.subscription_id FROM webhook_deliveries d
                      WHERE d.state = 'pending' AND d.subscription_id > p.subscription_id
                      ORDER BY d.subscription_id LIMIT 1)
               FROM pending p WHERE p.subscription_id IS NOT NULL
           ),
           allowance AS (
             SELECT s.subscription_id,
                    CASE WHEN s.suspended_until > now() THEN $1::int
                         ELSE CASE WHEN s.consecutive_failures >= $5 THEN 1 ELSE $4::int END
                              - (SELECT count(*) FROM webhook_deliveries b
                                  WHERE b.subscription_id = s.subscription_id AND b.state = 'pending'
                                    AND b.lease_owner IS NOT NULL AND b.lease_until > now())::int
                    END AS free
               FROM pending p JOIN webhook_subscriptions s ON s.subscription_id = p.subscription_id
           ),
           due AS (
             SELECT c.delivery_id, c.next_attempt_at FROM allowance a
              CROSS JOIN LATERAL (
                SELECT d.delivery_id, d.next_attempt_at FROM webhook_deliveries d
                 WHERE d.subscription_id = a.subscription_id AND d.state = 'pending'
                   AND d.next_attempt_at <= now()
                 ORDER BY d.next_attempt_at, d.delivery_id
                 LIMIT greatest(a.free, 0)) c
              ORDER BY c.next_attempt_at, c.delivery_id
              LIMIT $1
           ),
           -- Only the rows taken are locked, not every subscription's candidates.
           locked AS (
             SELECT d.delivery_id FROM webhook_deliveries d
              WHERE d.delivery_id IN (SELECT delivery_id FROM due) AND d.state = 'pending'
                AND d.next_attempt_at <= now()
                FOR UPDATE SKIP LOCKED
           )
           UPDATE webhook_deliveries d
              SET lease_owner = $2,
                  lease_until = now() + $3::bigint * interval '1 millisecond',
                  next_attempt_at = now() + $3::bigint * interval '1 millisecond'
             FROM locked, webhook_subscriptions s
            WHERE d.delivery_id = locked.delivery_id AND s.subscription_id = d.subscription_id
           RETURNING d.delivery_id, d.subscription_id, d.event_id, d.event_type, d.body, d.attempts,
                     d.attempts_before_redelivery, s.url, s.secret, s.deleted_at IS NOT NULL AS deleted,
                     CASE WHEN s.suspended_until > now() THEN s.suspended_until END AS suspended_until,
                     s.consecutive_failures`,
        values: [limit, this.options.owner, this.leaseMs, concurrencyPerSubscription, circuitFailures],
      });
      return rows;
    });
  }

  private async attempt(row: ClaimedRow): Promise<void> {
    const attempt = row.attempts + 1;
    const ofSchedule = attempt - row.attempts_before_redelivery;
    const last = ofSchedule >= this.options.settings.maxAttempts;
    if (row.deleted) {
      await this.record(row, attempt, {
        outcome: 'cancelled',
        statusCode: null,
        error: 'subscription deleted',
        durationMs: 0,
        retryInMs: null,
        called: false,
      });
      return;
    }
    if (row.suspended_until) {
      await this.record(row, attempt, {
        outcome: last ? 'failed' : 'retry',
        statusCode: null,
        error: `not sent: the receiver failed ${row.consecutive_failures} calls in a row; calls resume after ${row.suspended_until.toISOString()}`,
        durationMs: 0,
        retryInMs: last ? null : this.retryDelay(ofSchedule, null),
        called: false,
        afterCooloff: true,
      });
      this.options.metrics?.onNotSent?.();
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
        called: true,
      });
      return;
    }
    await this.record(row, attempt, {
      outcome: last ? 'failed' : 'retry',
      statusCode,
      error: (error ?? `HTTP ${statusCode}`).slice(0, MAX_ERROR_LENGTH),
      durationMs,
      retryInMs: last ? null : this.retryDelay(ofSchedule, outcome?.retryAfterMs ?? null),
      called: true,
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
      /** A call was made: its outcome moves the subscription's circuit. */
      called: boolean;
      /**
       * Not sent: the retry waits for the end of the cool-off too, read in the database (this
       * replica's clock may run ahead of it).
       */
      afterCooloff?: boolean;
    },
  ): Promise<void> {
    await withTransaction(this.options.pool, async (client) => {
      // The subscription's row is locked before the delivery's, in the order a deletion locks them.
      if (result.called) await this.moveCircuit(client, row.subscription_id, result.outcome === 'delivered');
      // One statement: the next attempt's time, the attempt's log line, the delivery's update.
      await client.query({
        name: 'webhooks.record',
        // No retry, no next time: greatest() would otherwise take the cool-off's end alone.
        text: `WITH next AS (
                 SELECT CASE WHEN $10::bigint IS NOT NULL THEN
                          greatest(now() + $10::bigint * interval '1 millisecond',
                                   (SELECT suspended_until FROM webhook_subscriptions
                                     WHERE subscription_id = $3 AND $11::boolean)) END AS at
               ),
               logged AS (
                 INSERT INTO webhook_delivery_attempts
                   (delivery_id, attempt, subscription_id, event_id, event_type, outcome, status_code, error,
                    duration_ms, attempted_at, next_attempt_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9::integer,
                        now() - $9::integer * interval '1 millisecond', next.at FROM next
                 ON CONFLICT (delivery_id, attempt) DO NOTHING
               )
               UPDATE webhook_deliveries
                  SET attempts = $2,
                      state = CASE $6::text WHEN 'retry' THEN 'pending' ELSE $6::text END,
                      next_attempt_at = (SELECT at FROM next),
                      finished_at = CASE $6::text WHEN 'retry' THEN NULL ELSE now() END,
                      last_status_code = $7,
                      last_error = $8,
                      lease_owner = NULL,
                      lease_until = NULL
                WHERE delivery_id = $1 AND lease_owner = $12 AND state = 'pending'`,
        values: [
          row.delivery_id,
          attempt,
          row.subscription_id,
          row.event_id,
          row.event_type,
          result.outcome,
          result.statusCode,
          result.error,
          result.durationMs,
          result.retryInMs,
          result.afterCooloff ?? false,
          this.options.owner,
        ],
      });
    });
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
   * A delivered call closes the circuit; a failed one counts, and the failure that reaches
   * `circuitFailures` (or a failed probe after a cool-off) opens it for a cool-off that doubles
   * with each failure past the threshold. Failures of calls that were in flight when it opened
   * count but do not move its end.
   */
  private async moveCircuit(client: PoolClient, subscriptionId: string, delivered: boolean): Promise<void> {
    if (delivered) {
      await client.query({
        name: 'webhooks.circuit-close',
        text: `UPDATE webhook_subscriptions SET consecutive_failures = 0, suspended_until = NULL
                WHERE subscription_id = $1 AND consecutive_failures > 0`,
        values: [subscriptionId],
      });
      return;
    }
    const { circuitFailures, circuitCooloffMs, circuitMaxCooloffMs } = this.options.settings;
    const { rows } = await client.query<{ suspended_until: Date | null; opened: boolean }>({
      name: 'webhooks.circuit-fail',
      // The row is locked before it is read, so that concurrent failures each see the last count.
      text: `WITH old AS (
               SELECT subscription_id, consecutive_failures, suspended_until FROM webhook_subscriptions
                WHERE subscription_id = $1 FOR UPDATE
             )
             UPDATE webhook_subscriptions s
                SET consecutive_failures = old.consecutive_failures + 1,
                    suspended_until = CASE
                      WHEN old.consecutive_failures + 1 >= $2
                       AND (old.suspended_until IS NULL OR old.suspended_until <= now())
                      THEN now() + least($3::float8 * power(2, old.consecutive_failures + 1 - $2), $4::float8)
                                   * interval '1 millisecond'
                      ELSE old.suspended_until END
               FROM old
              WHERE s.subscription_id = old.subscription_id
          RETURNING s.suspended_until, s.suspended_until IS DISTINCT FROM old.suspended_until AS opened`,
      values: [subscriptionId, circuitFailures, circuitCooloffMs, circuitMaxCooloffMs],
    });
    if (!rows[0]?.opened) return;
    this.options.metrics?.onCircuitOpened?.();
    this.options.logger.warn(
      { subscriptionId, until: rows[0].suspended_until },
      'webhook receiver keeps failing: deliveries paused until the cool-off ends, then one call probes it',
    );
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
