/**
 * Bookkeeping of the messaging lib (libs/messaging). `relay_checkpoints`: how far the outbox
 * relay has published the log. `consumer_checkpoints`: how far each event consumer's sweep
 * has checked the log. `consumer_stream_versions`: the last version of each stream an event
 * consumer has handled (its idempotency and gap check). `dead_letters`: messages given up on.
 * Checkpoints are (transaction id, position) pairs: see `LogCheckpoint` in the event store.
 */
export const id = '0002_messaging';

export const sql = `
  CREATE TABLE relay_checkpoints (
    name            text        PRIMARY KEY,
    transaction_id  bigint      NOT NULL,
    position        bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE consumer_checkpoints (
    consumer        text        PRIMARY KEY,
    transaction_id  bigint      NOT NULL,
    position        bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE consumer_stream_versions (
    consumer        text        NOT NULL,
    stream_id       text        NOT NULL,
    version         integer     NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, stream_id)
  );
  CREATE TABLE dead_letters (
    id              bigserial   PRIMARY KEY,
    consumer        text        NOT NULL,
    stream          text        NOT NULL,
    seq             bigint,
    subject         text        NOT NULL,
    data            text        NOT NULL,
    error           text        NOT NULL,
    delivery_count  integer     NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dead_letters_message_key UNIQUE (consumer, stream, seq)
  );
`;
