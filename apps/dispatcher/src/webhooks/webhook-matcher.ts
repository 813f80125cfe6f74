import type { EventEnvelope } from '@cronicorn/events';
import type { PoolClient } from 'pg';

/**
 * The `webhooks` event consumer's handler: inside the consumer's transaction, queues one
 * delivery per active subscription of the event's tenant that wants its type. Idempotent:
 * (subscription, event id) is unique, so a redelivered or swept event queues nothing twice.
 *
 * A subscription gets the events after its own WebhookSubscriptionCreated in the log's commit
 * order (transaction id, position), never the history before it, even when this consumer
 * is new or far behind. The subscription row commits with its event, and the consumer sees an
 * event only once every older transaction has finished, so the row is always there in time.
 *
 * Returns how many deliveries were queued.
 */
export async function queueDeliveries(envelope: EventEnvelope, client: PoolClient): Promise<number> {
  const result = await client.query({
    name: 'webhooks.queue-deliveries',
    text: `INSERT INTO webhook_deliveries
       (subscription_id, tenant_id, event_id, event_type, event_position, body, next_attempt_at)
     SELECT s.subscription_id, s.tenant_id, e.event_id, $4::text, e.position, $3::text, now()
       FROM webhook_subscriptions s
       JOIN events e ON e.event_id = $1
      WHERE s.tenant_id = $2
        AND s.deleted_at IS NULL
        AND ($4::text = ANY (s.event_types) OR '*' = ANY (s.event_types))
        AND (e.transaction_id, e.position) > (s.created_transaction_id, s.created_position)
     ON CONFLICT (subscription_id, event_id) DO NOTHING`,
    values: [envelope.id, envelope.tenantId, JSON.stringify(envelope), envelope.type],
  });
  return result.rowCount ?? 0;
}
