import { randomUUID } from 'node:crypto';
import { Event } from '@cronicorn/events';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { ConcurrencyError } from './errors';
import { GroupCommitAppender } from './group-commit-appender';
import { PostgresEventStore } from './postgres-event-store';

const happened = (n: number): Event => ({ type: 'TestHappened', data: { n } });
const metadata = { tenantId: 'tgroup', actor: 'test' };
const runStream = () => `run-${randomUUID()}`;

describe('GroupCommitAppender', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase({ max: 10 });
    store = new PostgresEventStore(db.pool);
  });
  afterAll(() => db.drop());

  const transactionsOf = async (streams: string[]) =>
    (
      await db.pool.query<{ n: number }>(
        'SELECT count(DISTINCT transaction_id)::int AS n FROM events WHERE stream_id = ANY($1)',
        [streams],
      )
    ).rows[0].n;

  describe('When many callers append at once', () => {
    it('should store every append with its own time and share transactions', async () => {
      const appender = new GroupCommitAppender(store, { concurrency: 1 });
      const streams = Array.from({ length: 20 }, runStream);
      const times = streams.map((_, i) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)));

      const results = await Promise.all(
        streams.map((streamId, i) =>
          appender.append(streamId, [happened(i)], { expectedVersion: 0, metadata, occurredAt: times[i] }),
        ),
      );

      results.forEach((result, i) => {
        expect(result.nextExpectedVersion).toBe(1);
        expect(result.envelopes[0]).toMatchObject({
          streamId: streams[i],
          data: { n: i },
          occurredAt: times[i].toISOString(),
        });
      });
      for (const [i, streamId] of streams.entries()) {
        expect((await store.readStream(streamId)).map((e) => e.data)).toEqual([{ n: i }]);
      }
      expect(await transactionsOf(streams)).toBeLessThan(streams.length);
    });
  });

  describe('When one append of a shared transaction conflicts', () => {
    it('should fail that caller only and store the others', async () => {
      const appender = new GroupCommitAppender(store, { concurrency: 1 });
      const taken = runStream();
      await store.append(taken, [happened(0)], { expectedVersion: 0, metadata });
      const others = Array.from({ length: 10 }, runStream);

      const outcomes = await Promise.allSettled([
        ...others.slice(0, 5).map((s) => appender.append(s, [happened(1)], { expectedVersion: 0, metadata })),
        appender.append(taken, [happened(1)], { expectedVersion: 0, metadata }),
        ...others.slice(5).map((s) => appender.append(s, [happened(1)], { expectedVersion: 0, metadata })),
      ]);

      const rejected = outcomes.filter((o) => o.status === 'rejected');
      expect(rejected).toHaveLength(1);
      expect((rejected[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
      expect(outcomes[5].status).toBe('rejected');
      for (const streamId of others) expect(await store.readStream(streamId)).toHaveLength(1);
      expect(await store.readStream(taken)).toHaveLength(1);
    });
  });

  describe('When a second append to a stream comes while the first is in flight', () => {
    it('should commit it after the first, not beside it', async () => {
      const appender = new GroupCommitAppender(store);
      const stream = runStream();

      await Promise.all([
        appender.append(stream, [happened(1)], { expectedVersion: 0, metadata }),
        appender.append(stream, [happened(2)], { expectedVersion: 1, metadata }),
      ]);

      expect((await store.readStream(stream)).map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
    });
  });

  describe('When an append is invalid', () => {
    it('should fail that caller only', async () => {
      const appender = new GroupCommitAppender(store, { concurrency: 1 });
      const others = Array.from({ length: 4 }, runStream);

      const outcomes = await Promise.allSettled([
        ...others.map((s) => appender.append(s, [happened(1)], { expectedVersion: 0, metadata })),
        appender.append(runStream(), [happened(1)], {
          expectedVersion: 0,
          metadata: { ...metadata, tenantId: '' },
        }),
      ]);

      expect(outcomes.map((o) => o.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'rejected',
      ]);
    });
  });
});
