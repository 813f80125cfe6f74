/**
 * Outbound webhooks (apps/command-api `subscriptions`, apps/dispatcher `webhooks`).
 *
 * - `webhook_subscriptions`: the tenant's subscriptions, folded from the tenant stream's
 *   WebhookSubscriptionCreated/Deleted events. command-api writes the row in the same
 *   transaction as the event (so it is listed, and matched, at once). `created_transaction_id`
 *   and `created_position` are the creating event's place in the log: a subscription receives
 *   the events after it in commit order, never older history. `secret` is a SecretBox token.
 * - `webhook_deliveries`: one row per (subscription, event) to deliver, with the exact body
 *   sent on every attempt; claimed by delivery loops with `FOR UPDATE SKIP LOCKED` and a lease.
 *   `lease_until` and `next_attempt_at` are in the database's clock.
 * - `webhook_delivery_attempts`: the delivery log, one row per attempt.
 */
export const id = '0050_webhooks';

export const sql = `
  CREATE TABLE webhook_subscriptions (
    subscription_id         text        PRIMARY KEY,
    tenant_id               text        NOT NULL,
    url                     text        NOT NULL,
    event_types             text[]      NOT NULL,
    secret                  text        NOT NULL,
    created_at              timestamptz NOT NULL,
    created_transaction_id  xid8        NOT NULL,
    created_position        bigint      NOT NULL,
    deleted_at              timestamptz
  );
  CREATE INDEX webhook_subscriptions_tenant_idx ON webhook_subscriptions (tenant_id, created_at);

  CREATE TABLE webhook_deliveries (
    delivery_id      bigserial   PRIMARY KEY,
    subscription_id  text        NOT NULL REFERENCES webhook_subscriptions ON DELETE CASCADE,
    tenant_id        text        NOT NULL,
    event_id         uuid        NOT NULL,
    event_type       text        NOT NULL,
    event_position   bigint      NOT NULL,
    body             text        NOT NULL,
    state            text        NOT NULL DEFAULT 'pending'
                                 CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    lease_owner      text,
    lease_until      timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (subscription_id, event_id)
  );
  CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
  CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (finished_at) WHERE state <> 'pending';

  CREATE TABLE webhook_delivery_attempts (
    delivery_id      bigint      NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
    attempt          integer     NOT NULL,
    subscription_id  text        NOT NULL,
    event_id         uuid        NOT NULL,
    event_type       text        NOT NULL,
    outcome          text        NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed', 'cancelled')),
    status_code      integer,
    error            text,
    duration_ms      integer     NOT NULL,
    attempted_at     timestamptz NOT NULL,
    next_attempt_at  timestamptz,
    PRIMARY KEY (delivery_id, attempt)
  );
  CREATE INDEX webhook_delivery_attempts_subscription_idx
    ON webhook_delivery_attempts (subscription_id, attempted_at DESC, delivery_id DESC, attempt DESC);
`;
