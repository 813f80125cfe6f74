/**
 * Redelivery of failed webhook deliveries (`POST /v1/subscriptions/:id/redeliver`).
 *
 * `attempts_before_redelivery`: the attempts a delivery had made when it was last put back to
 * pending by hand. Its retry schedule and its attempt limit count from there, so a redelivered
 * delivery gets every attempt again, while its attempt numbers (the delivery log's key) go on.
 * `redelivered_at`: when; the delivery log shows it pending from then until its next attempt.
 */
export const id = '0052_webhook_redelivery';

export const sql = `
  ALTER TABLE webhook_deliveries
    ADD COLUMN attempts_before_redelivery integer NOT NULL DEFAULT 0,
    ADD COLUMN redelivered_at timestamptz;
`;
