/**
 * Fairness between webhook subscriptions (ADR 0026).
 *
 * - `webhook_deliveries_pending_idx`: the claim walks the subscriptions that have pending
 *   deliveries (a loose index scan) and takes each one's oldest due rows, so a subscription
 *   with a large backlog cannot fill the claim and starve the others. It replaces the index
 *   on `next_attempt_at` alone.
 * - `webhook_deliveries_leased_idx`: counts each subscription's calls in flight.
 * - `consecutive_failures`, `suspended_until`: the subscription's circuit breaker. After a
 *   run of failed calls its deliveries are not sent until `suspended_until` (they count a
 *   failed attempt each and are retried on their schedule); then one call probes the receiver.
 */
export const id = '0051_webhook_fairness';

export const sql = `
  ALTER TABLE webhook_subscriptions
    ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN suspended_until timestamptz;

  CREATE INDEX webhook_deliveries_pending_idx
    ON webhook_deliveries (subscription_id, next_attempt_at, delivery_id) WHERE state = 'pending';
  CREATE INDEX webhook_deliveries_leased_idx
    ON webhook_deliveries (subscription_id) WHERE state = 'pending' AND lease_owner IS NOT NULL;
  DROP INDEX webhook_deliveries_due_idx;
`;
