import type { Pool } from 'pg';

/** A message given up on: terminated on JetStream (or skipped by a sweep) and kept here. */
export interface DeadLetter {
  /** Durable consumer name (or event consumer name). */
  consumer: string;
  /** JetStream stream; the event store's log when the sweep gave up (`seq` is then the position). */
  stream: string;
  seq: string | number | null;
  subject: string;
  /** The payload as UTF-8 text (our messages are JSON). */
  data: string;
  error: string;
  deliveryCount: number;
}

export interface DeadLetterRecorder {
  record(letter: DeadLetter): Promise<void>;
}

/** Stream name used in `dead_letters` for events the sweep read from the store. */
export const EVENT_LOG_STREAM = '$event-store';

/**
 * Writes to `dead_letters`. Recording the same message twice (its `term` was lost and it
 * came back) keeps one row with the latest error; another message under the same sequence
 * (of a re-created stream) gets its own row.
 */
export class PostgresDeadLetters implements DeadLetterRecorder {
  constructor(private readonly pool: Pool) {}

  async record(letter: DeadLetter): Promise<void> {
    await this.pool.query(
      `INSERT INTO dead_letters (consumer, stream, seq, subject, data, error, delivery_count)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (consumer, stream, seq, md5(data)) DO UPDATE
         SET error = EXCLUDED.error, delivery_count = EXCLUDED.delivery_count, at = now()`,
      [
        letter.consumer,
        letter.stream,
        letter.seq === null ? null : String(letter.seq),
        letter.subject,
        letter.data,
        letter.error,
        letter.deliveryCount,
      ],
    );
  }
}
