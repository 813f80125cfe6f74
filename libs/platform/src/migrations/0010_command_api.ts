export const id = '0010_command_api';

// api_keys: the auth lookup, written in the same transaction as ApiKeyIssued/ApiKeyRevoked.
// idempotency_keys: stored answers of POSTs sent with an Idempotency-Key. The key itself is
// kept only as a hash, and the answer encrypted under a key derived from it (it may carry a
// freshly issued API key).
export const sql = `
CREATE TABLE api_keys (
  key_hash   text PRIMARY KEY,
  key_id     text NOT NULL UNIQUE,
  tenant_id  text NOT NULL,
  name       text NOT NULL,
  prefix     text NOT NULL,
  created_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at);

CREATE TABLE idempotency_keys (
  scope            text NOT NULL,
  key_hash         text NOT NULL,
  request_hash     text NOT NULL,
  status_code      integer NOT NULL,
  response         text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key_hash)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
`;
