/**
 * `GET /v1/events?type=` reads a tenant's events of a few types in log order. Without an index
 * it looked at windows of the log until one matched: a type absent from a large log cost one
 * query per window, 20,000 of them for 200,000 events at `limit=1` (about 40 s). With this
 * index each type is an ordered index scan that stops after the page. The three types every
 * run appends are left out (the event store's `PER_RUN_TYPES`): they are nearly every event,
 * so an index of them would cost each run's appends most, and a window finds them at once.
 */
export const id = '0003_events_tenant_type_idx';

export const sql = `
  CREATE INDEX events_tenant_type_transaction_position_idx ON events (tenant_id, type, transaction_id, position)
    WHERE type NOT IN ('NextRunPlanned', 'RunStarted', 'RunFinished');
`;
