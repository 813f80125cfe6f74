/**
 * A dead letter is one message: its consumer, stream, sequence and payload. JetStream numbers a
 * re-created stream's messages from 1 again (a NATS server restarted without its store), so a
 * new message given up on could share an old one's sequence; keyed on the sequence alone, its
 * row took the old row's place and kept the old payload.
 */
export const id = '0004_dead_letters_by_payload';

export const sql = `
  ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_message_key;
  CREATE UNIQUE INDEX dead_letters_message_idx ON dead_letters (consumer, stream, seq, md5(data));
`;
