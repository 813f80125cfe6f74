import { streamIds } from '@cronicorn/events';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { at, History, newId } from '../test/fixtures';
import { readModelProgress, waitForPosition } from './progress';

jest.setTimeout(30_000);

describe('Read-model progress', () => {
  let db: TestDatabase;
  let history: History;

  beforeAll(async () => {
    db = await createTestDatabase();
    history = new History(db.pool);
  });
  afterAll(() => db.drop());

  // What the projector's tail records in the transaction that applies a page: its checkpoint.
  const recordHandled = (consumer: string, position: string) =>
    db.pool.query(
      `INSERT INTO consumer_checkpoints (consumer, transaction_id, position)
       SELECT $1, transaction_id::text::bigint, position FROM events WHERE position = $2::bigint
       ON CONFLICT (consumer) DO UPDATE
         SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position`,
      [consumer, position],
    );

  async function appendJob(): Promise<{ positions: string[] }> {
    const tenant = history.tenant();
    const jobId = newId('job');
    const streamId = streamIds.job(jobId);
    const envelopes = await history.append(
      tenant.tenantId,
      streamId,
      { type: 'JobCreated', data: { jobId, name: 'n', description: null, createdAt: at(0) } },
      { type: 'JobArchived', data: { jobId, archivedAt: at(1) } },
    );
    return { positions: envelopes.map((e) => e.position) };
  }

  describe('When the projector has processed part of a stream', () => {
    it('should report the events at or behind the checkpoint only, for that reader only', async () => {
      const { positions } = await appendJob();
      expect(await readModelProgress(db.pool, positions[0], 'partly')).toBe(false);

      await recordHandled('partly', positions[0]);
      expect(await readModelProgress(db.pool, positions[0], 'partly')).toBe(true);
      expect(await readModelProgress(db.pool, positions[1], 'partly')).toBe(false);
      expect(await readModelProgress(db.pool, positions[0], 'someone-else')).toBe(false);
    });

    it('should say no for a position the log does not have and refuse one that is not a number', async () => {
      expect(await readModelProgress(db.pool, '999999999')).toBe(false);
      await expect(readModelProgress(db.pool, '12; DROP TABLE events')).rejects.toThrow(RangeError);
    });
  });

  describe('When a reader waits for a position', () => {
    it('should resolve true as soon as the event is processed', async () => {
      const { positions } = await appendJob();
      const waiting = waitForPosition(db.pool, positions[1], 10_000, { pollMs: 10 });
      await recordHandled('projector', positions[1]);
      expect(await waiting).toBe(true);
    });

    it('should resolve false when the time is up', async () => {
      const { positions } = await appendJob();
      expect(await waitForPosition(db.pool, positions[1], 50, { pollMs: 10 })).toBe(false);
    });
  });
});
