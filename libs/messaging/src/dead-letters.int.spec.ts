import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { DeadLetter, PostgresDeadLetters } from './dead-letters';

describe('PostgresDeadLetters', () => {
  let db: TestDatabase;
  let letters: PostgresDeadLetters;

  beforeAll(async () => {
    db = await createTestDatabase();
    letters = new PostgresDeadLetters(db.pool);
  });
  afterAll(() => db?.drop());

  const letter = (data: string, error: string): DeadLetter => ({
    consumer: 'dispatcher',
    stream: 'CRONICORN_DISPATCH',
    seq: 7,
    subject: 'cronicorn.dispatch.t.e',
    data,
    error,
    deliveryCount: 3,
  });
  const rows = async () =>
    (
      await db.pool.query<{ data: string; error: string }>(
        `SELECT data, error FROM dead_letters WHERE consumer = 'dispatcher' ORDER BY id`,
      )
    ).rows;

  it('should keep one row per message, and a row of its own for another message under the same sequence', async () => {
    await letters.record(letter('{"runId":"first"}', 'timed out'));
    await letters.record(letter('{"runId":"first"}', 'timed out again'));
    // The stream was re-created and numbers its messages from 1 again.
    await letters.record(letter('{"runId":"second"}', 'unreadable'));

    expect(await rows()).toEqual([
      { data: '{"runId":"first"}', error: 'timed out again' },
      { data: '{"runId":"second"}', error: 'unreadable' },
    ]);
  });
});
