import type { EventEnvelope } from '@cronicorn/events';
import type { PoolClient } from 'pg';

/**
 * Queues, inside the log tail's transaction, one delivery per active subscription of each
 * event's tenant that wants its type, for the whole page in a statement or two. Idempotent:
 * (subscription, event id) is unique, so a page read again queues nothing twice.
 *
 * A subscription gets the events after its own WebhookSubscriptionCreated in the log's commit
 * order (transaction id, position), never the history before it, even when the tail is new or
 * far behind. The subscription row commits with its event, and the tail reads only below the
 * oldest open transaction, with the subscriptions at the same snapshot (`LogTail`, with
 * `subscribedTenants`).
 *
 * Returns the ids of the events that queued a delivery.
 */
export async function queueDeliveries(
  envelopes: readonly EventEnvelope[],
  client: PoolClient,
): Promise<Set<string>> {
  if (envelopes.length === 0) return new Set();
  const { rows } = await client.query<{ event_id: string }>({
    name: 'webhooks.queue-deliveries',
    text: `INSERT INTO webhook_deliveries
       (subscription_id, tenant_id, event_id, event_type, event_position, body, next_attempt_at)
     SELECT s.subscription_id, s.tenant_id, e.event_id, b.type, e.position, b.body, now()
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS b (event_id, tenant_id, type, body)
       JOIN webhook_subscriptions s
         ON s.tenant_id = b.tenant_id AND s.deleted_at IS NULL
        AND (b.type = ANY (s.event_types) OR '*' = ANY (s.event_types))
       JOIN events e ON e.event_id = b.event_id
      WHERE (e.transaction_id, e.position) > (s.created_transaction_id, s.created_position)
     ON CONFLICT (subscription_id, event_id) DO NOTHING
     RETURNING event_id`,
    values: [
      envelopes.map((e) => e.id),
      envelopes.map((e) => e.tenantId),
      envelopes.map((e) => e.type),
      envelopes.map((e) => JSON.stringify(e)),
    ],
  });
  return new Set(rows.map((row) => row.event_id));
}

/** The tenants with an active subscription: the only ones whose events the tail reads. */
export async function subscribedTenants(client: PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ tenant_id: string }>({
    name: 'webhooks.subscribed-tenants',
    text: 'SELECT DISTINCT tenant_id FROM webhook_subscriptions WHERE deleted_at IS NULL',
  });
  return rows.map((row) => row.tenant_id);
}
