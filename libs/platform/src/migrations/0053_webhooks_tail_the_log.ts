/**
 * Webhooks queue their deliveries by tailing the event log (ADR 0031): the `webhooks` event
 * consumer's per-stream versions are no longer read or pruned. Its checkpoint in
 * `consumer_checkpoints` stays: the tail starts from it.
 */
export const id = '0053_webhooks_tail_the_log';

export const sql = `
  DELETE FROM consumer_stream_versions WHERE consumer = 'webhooks';
`;
