/**
 * The event log (DESIGN §3). `transaction_id` with `pg_snapshot_xmin` lets readers walk the
 * log in a commit-safe order, because a bigserial is drawn before commit and positions alone
 * can become visible out of order. UNIQUE (stream_id, stream_version) is the optimistic
 * concurrency check and also the index for stream reads. Tenant reads of the log filter by
 * tenant and order by (transaction_id, position), hence that index shape.
 */
export const id = '0001_event_store';

export const sql = `
  CREATE TABLE events (
    position        bigserial   PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text        NOT NULL,
    stream_version  integer     NOT NULL CHECK (stream_version > 0),
    event_id        uuid        NOT NULL UNIQUE,
    type            text        NOT NULL,
    schema_version  integer     NOT NULL,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    tenant_id       text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
  );
  CREATE INDEX events_transaction_position_idx ON events (transaction_id, position);
  CREATE INDEX events_tenant_transaction_position_idx ON events (tenant_id, transaction_id, position);
`;
