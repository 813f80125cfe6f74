import { Inject, Injectable } from '@nestjs/common';
import { PG_POOL } from '@cronicorn/platform';
import type { Pool, PoolClient } from 'pg';

export interface SubscriptionRow {
  subscriptionId: string;
  tenantId: string;
  url: string;
  eventTypes: string[];
  createdAt: string;
  /** Failed calls in a row to its receiver. */
  consecutiveFailures: number;
  /** While the receiver keeps failing, its deliveries are not sent until then (the circuit is open). */
  deliveriesPausedUntil: string | null;
}

/** One line of a subscription's delivery log: an attempt, or a delivery not attempted yet. */
export interface DeliveryLogRow {
  deliveryId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  outcome: 'pending' | 'delivered' | 'retry' | 'failed' | 'cancelled';
  statusCode: number | null;
  error: string | null;
  at: string;
  nextAttemptAt: string | null;
}

interface SubscriptionDbRow {
  subscription_id: string;
  tenant_id: string;
  url: string;
  event_types: string[];
  created_at: Date;
  consecutive_failures: number;
  paused_until: Date | null;
}

interface DeliveryDbRow {
  delivery_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  outcome: DeliveryLogRow['outcome'];
  status_code: number | null;
  error: string | null;
  at: Date;
  next_attempt_at: Date | null;
}

/**
 * Table `webhook_subscriptions` (migration 0050), written in the same transaction as the
 * WebhookSubscriptionCreated/Deleted event, as `api_keys` is (ADR 0006): a subscription is
 * listed, and matched by the dispatcher, from the moment its event commits. Also reads the
 * delivery log the dispatcher writes.
 */
@Injectable()
export class SubscriptionRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /**
   * Inserts the row of a created subscription; its place in the log is read from its event,
   * which this transaction has just written.
   */
  async insert(
    client: PoolClient,
    row: Omit<SubscriptionRow, 'consecutiveFailures' | 'deliveriesPausedUntil'> & {
      secret: string;
      eventId: string;
    },
  ): Promise<void> {
    await client.query(
      `INSERT INTO webhook_subscriptions
         (subscription_id, tenant_id, url, event_types, secret, created_at, created_transaction_id, created_position)
       SELECT $1, $2, $3, $4, $5, $6, e.transaction_id, e.position FROM events e WHERE e.event_id = $7
       ON CONFLICT (subscription_id) DO NOTHING`,
      [row.subscriptionId, row.tenantId, row.url, row.eventTypes, row.secret, row.createdAt, row.eventId],
    );
  }

  /** Marks it deleted and cancels its deliveries not made yet. */
  async markDeleted(client: PoolClient, tenantId: string, subscriptionId: string, deletedAt: string) {
    await client.query(
      `UPDATE webhook_subscriptions SET deleted_at = $3
        WHERE subscription_id = $1 AND tenant_id = $2 AND deleted_at IS NULL`,
      [subscriptionId, tenantId, deletedAt],
    );
    // The delivery log says so. A delivery a dispatcher is calling right now (leased) will
    // record that call as its next attempt, so the cancellation takes the one after.
    await client.query(
      `WITH cancelled AS (
         UPDATE webhook_deliveries
            SET state = 'cancelled', finished_at = now(), next_attempt_at = NULL
          WHERE subscription_id = $1 AND state = 'pending'
        RETURNING delivery_id, subscription_id, event_id, event_type,
                  attempts + CASE WHEN lease_until > now() THEN 2 ELSE 1 END AS attempt
       )
       INSERT INTO webhook_delivery_attempts
         (delivery_id, attempt, subscription_id, event_id, event_type, outcome, error, duration_ms, attempted_at)
       SELECT delivery_id, attempt, subscription_id, event_id, event_type, 'cancelled', 'subscription deleted', 0, now()
         FROM cancelled
       ON CONFLICT (delivery_id, attempt) DO NOTHING`,
      [subscriptionId],
    );
  }

  /**
   * Puts the subscription's failed deliveries queued at or after `since` back to pending, due
   * now, each with a new schedule of attempts, makes those waiting for a retry due now, and
   * closes its circuit: the tenant says the receiver is back. Returns how many failed ones.
   * Locks the subscription's row before its deliveries', in the order the delivery loop and a
   * deletion lock them.
   */
  async redeliverFailed(
    client: PoolClient,
    tenantId: string,
    subscriptionId: string,
    since: string | null,
  ): Promise<number> {
    await client.query(
      `UPDATE webhook_subscriptions SET consecutive_failures = 0, suspended_until = NULL
        WHERE subscription_id = $1 AND tenant_id = $2`,
      [subscriptionId, tenantId],
    );
    const { rowCount } = await client.query(
      `UPDATE webhook_deliveries
          SET state = 'pending', next_attempt_at = now(), finished_at = NULL,
              attempts_before_redelivery = attempts, redelivered_at = now()
        WHERE subscription_id = $1 AND tenant_id = $2 AND state = 'failed'
          AND ($3::timestamptz IS NULL OR created_at >= $3::timestamptz)`,
      [subscriptionId, tenantId, since],
    );
    // Those waiting between attempts (not in a call) are due now too, without a new schedule.
    await client.query(
      `UPDATE webhook_deliveries SET next_attempt_at = now()
        WHERE subscription_id = $1 AND tenant_id = $2 AND state = 'pending'
          AND lease_owner IS NULL AND next_attempt_at > now()
          AND ($3::timestamptz IS NULL OR created_at >= $3::timestamptz)`,
      [subscriptionId, tenantId, since],
    );
    return rowCount ?? 0;
  }

  /** The tenant's subscriptions that are not deleted, oldest first. */
  async listActive(tenantId: string): Promise<SubscriptionRow[]> {
    const { rows } = await this.pool.query<SubscriptionDbRow>(
      `SELECT subscription_id, tenant_id, url, event_types, created_at, consecutive_failures,
              CASE WHEN suspended_until > now() THEN suspended_until END AS paused_until
         FROM webhook_subscriptions
        WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at, subscription_id`,
      [tenantId],
    );
    return rows.map(toSubscription);
  }

  /** The subscription if it is the tenant's (deleted ones included: their log stays readable). */
  async find(tenantId: string, subscriptionId: string): Promise<SubscriptionRow | null> {
    const { rows } = await this.pool.query<SubscriptionDbRow>(
      `SELECT subscription_id, tenant_id, url, event_types, created_at, consecutive_failures,
              CASE WHEN suspended_until > now() THEN suspended_until END AS paused_until
         FROM webhook_subscriptions
        WHERE tenant_id = $1 AND subscription_id = $2`,
      [tenantId, subscriptionId],
    );
    return rows.length ? toSubscription(rows[0]) : null;
  }

  /** Newest first: every attempt, and the deliveries still waiting for their first one. */
  async deliveryLog(subscriptionId: string, limit: number): Promise<DeliveryLogRow[]> {
    const { rows } = await this.pool.query<DeliveryDbRow>(
      `(SELECT a.delivery_id, a.event_id, a.event_type, a.attempt,
               a.outcome, a.status_code, a.error, a.attempted_at AS at, a.next_attempt_at
          FROM webhook_delivery_attempts a
         WHERE a.subscription_id = $1
         ORDER BY a.attempted_at DESC, a.delivery_id DESC, a.attempt DESC
         LIMIT $2)
       UNION ALL
       (SELECT d.delivery_id, d.event_id, d.event_type, 0, 'pending', NULL, NULL,
               COALESCE(d.redelivered_at, d.created_at) AS at, d.next_attempt_at
          FROM webhook_deliveries d
         WHERE d.subscription_id = $1 AND d.state = 'pending' AND d.attempts = d.attempts_before_redelivery
         ORDER BY at DESC, d.delivery_id DESC
         LIMIT $2)
       ORDER BY at DESC, delivery_id DESC, attempt DESC
       LIMIT $2`,
      [subscriptionId, limit],
    );
    return rows.map((row) => ({
      deliveryId: row.delivery_id,
      eventId: row.event_id,
      eventType: row.event_type,
      attempt: row.attempt,
      outcome: row.outcome,
      statusCode: row.status_code,
      error: row.error,
      at: row.at.toISOString(),
      nextAttemptAt: row.next_attempt_at?.toISOString() ?? null,
    }));
  }
}

const toSubscription = (row: SubscriptionDbRow): SubscriptionRow => ({
  subscriptionId: row.subscription_id,
  tenantId: row.tenant_id,
  url: row.url,
  eventTypes: row.event_types,
  createdAt: row.created_at.toISOString(),
  consecutiveFailures: row.consecutive_failures,
  deliveriesPausedUntil: row.paused_until?.toISOString() ?? null,
});
