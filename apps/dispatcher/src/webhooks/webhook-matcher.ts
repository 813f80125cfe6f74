import type { EventEnvelope } from '@cronicorn/events';
import type { PoolClient } from 'pg';

/**
 * The `webhooks` event consumer's batch handler: inside the consumer's transaction, queues one
 * delivery per active subscription of each event's tenant that wants its type, for the whole
 * batch in a statement or two. Idempotent: (subscription, event id) is unique, so a
 * redelivered or swept event queues nothing twice.
 *
 * A subscription gets the events after its own WebhookSubscriptionCreated in the log's commit
 * order (transaction id, position), never the history before it, even when this consumer
 * is new or far behind. The subscription row commits with its event, so it is there in time
 * once every transaction older than the events has finished. NATS brings an event only then
 * (the relay reads below the oldest open transaction), but the consumer reads the earlier
 * versions of a stream from the store to fill a gap, and a stream's earlier version can be
 * in a younger transaction than its next: such a batch is refused until the older
 * transactions end (the consumer retries it), or a subscription still committing would miss
 * an event that follows it.
 *
 * Returns the ids of the events that queued a delivery.
 */
export async function queueDeliveries(
  envelopes: readonly EventEnvelope[],
  client: PoolClient,
): Promise<Set<string>> {
  // Most events belong to tenants without a subscription: they are not sent a second time.
  // One statement, one snapshot: the subscriptions read are those of every finished transaction.
  const subscribed = await client.query<{ tenants: string[]; settled: boolean }>({
    name: 'webhooks.subscribed-tenants',
    text: `SELECT ARRAY(SELECT DISTINCT tenant_id FROM webhook_subscriptions
                        WHERE tenant_id = ANY($1::text[]) AND deleted_at IS NULL) AS tenants,
                  NOT EXISTS (SELECT 1 FROM events
                               WHERE position = ANY($2::bigint[])
                                 AND transaction_id >= pg_snapshot_xmin(pg_current_snapshot())) AS settled`,
    values: [[...new Set(envelopes.map((e) => e.tenantId))], envelopes.map((e) => e.position)],
  });
  if (!subscribed.rows[0].settled)
    throw new Error('an event read from the store follows a transaction still open: matched once it ends');
  const tenants = new Set(subscribed.rows[0].tenants);
  const wanted = envelopes.filter((e) => tenants.has(e.tenantId));
  if (wanted.length === 0) return new Set();
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
      wanted.map((e) => e.id),
      wanted.map((e) => e.tenantId),
      wanted.map((e) => e.type),
      wanted.map((e) => JSON.stringify(e)),
    ],
  });
  return new Set(rows.map((row) => row.event_id));
}
