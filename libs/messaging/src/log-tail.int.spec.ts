import { randomUUID } from 'node:crypto';
import { Event, EventEnvelope } from '@cronicorn/events';
import { PostgresEventStore } from '@cronicorn/event-store';
import type { PoolClient } from 'pg';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { latestCheckpoint, waitFor } from '../test/helpers';
import { silentLogger } from './logger';
import { LogTail, LogTailOptions } from './log-tail';

jest.setTimeout(60_000);

const happened = (n: number): Event => ({ type: 'TestHappened', data: { n } });
const noted = (n: number): Event => ({ type: 'TestNoted', data: { n } });

describe('LogTail', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  const tails: LogTail[] = [];

  beforeAll(async () => {
    db = await createTestDatabase({ max: 20 });
    store = new PostgresEventStore(db.pool);
    // Not idempotent on purpose: a page handled twice counts twice.
    await db.pool.query('CREATE TABLE tail_counts (event_id uuid PRIMARY KEY, handled int NOT NULL)');
  });
  afterEach(() => Promise.all(tails.splice(0).map((tail) => tail.stop())));
  afterAll(() => db.drop());

  /** A tail named `name` that starts at the log's current end and counts what it handles. */
  async function tailFrom(name: string, options: Partial<LogTailOptions> = {}): Promise<LogTail> {
    const start = await latestCheckpoint(db.pool);
    await db.pool.query(
      `INSERT INTO consumer_checkpoints (consumer, transaction_id, position) VALUES ($1, $2, $3)
       ON CONFLICT (consumer) DO NOTHING`,
      [name, start.transactionId, start.position],
    );
    return newTail(name, options);
  }

  function newTail(name: string, options: Partial<LogTailOptions> = {}): LogTail {
    const tail = new LogTail({
      pool: db.pool,
      store,
      name,
      handle: count,
      pollIntervalMs: 100,
      lingerMs: 10,
      logger: silentLogger,
      ...options,
    });
    tails.push(tail);
    return tail;
  }

  async function count(events: readonly EventEnvelope[], client: PoolClient): Promise<void> {
    await client.query(
      `INSERT INTO tail_counts (event_id, handled) SELECT id, 1 FROM unnest($1::uuid[]) AS id
       ON CONFLICT (event_id) DO UPDATE SET handled = tail_counts.handled + 1`,
      [events.map((e) => e.id)],
    );
  }

  async function countsOf(events: readonly EventEnvelope[]): Promise<number[]> {
    const { rows } = await db.pool.query<{ event_id: string; handled: number }>(
      'SELECT event_id, handled FROM tail_counts WHERE event_id = ANY($1::uuid[])',
      [events.map((e) => e.id)],
    );
    const byId = new Map(rows.map((row) => [row.event_id, row.handled]));
    return events.map((e) => byId.get(e.id) ?? 0);
  }

  /** Until `events`, appended last, are below every open transaction (another test's, say). */
  async function visible(events: readonly EventEnvelope[]): Promise<void> {
    const last = events[events.length - 1];
    await waitFor(async () => (await store.headCheckpoint()).position === last.position, 'the events');
  }

  async function append(tenantId: string, ...events: Event[]): Promise<EventEnvelope[]> {
    const result = await store.append(`job-${randomUUID()}`, events, {
      expectedVersion: 0,
      metadata: { tenantId },
    });
    return result.envelopes;
  }

  it('should handle every event once, in log order, while leaders come and go', async () => {
    const tenantId = randomUUID();
    const order: string[] = [];
    // Told after the commit: a step rolled back does not count.
    const onHandled = (events: readonly EventEnvelope[]) => order.push(...events.map((e) => e.id));
    // Pages of different sizes: a step that lost the race would cover events the winner did.
    const first = await tailFrom('every-once', { onHandled, pageSize: 7 });
    const second = newTail('every-once', { onHandled });
    first.start();
    second.start();
    const appended: EventEnvelope[] = [];
    for (let round = 0; round < 6; round++) {
      const appends = Array.from({ length: 20 }, (_, i) => append(tenantId, happened(round * 20 + i)));
      appended.push(...(await Promise.all(appends)).flat());
      // Steps of both tails race here: the one that does not hold the checkpoint rolls back.
      await Promise.all([first.step(), second.step()]);
      if (round === 2) await (first.isLeader ? first : second).stop();
    }
    await waitFor(async () => (await countsOf(appended)).every((n) => n > 0), 'every event');
    expect(await countsOf(appended)).toEqual(appended.map(() => 1));
    const { rows } = await db.pool.query<{ event_id: string }>(
      `SELECT event_id FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY transaction_id, position`,
      [appended.map((e) => e.id)],
    );
    expect(order.filter((id) => appended.some((e) => e.id === id))).toEqual(rows.map((row) => row.event_id));
  });

  it('should read only its types, and only the tenants tenantsOf names', async () => {
    const [wanted, other] = [randomUUID(), randomUUID()];
    const tail = await tailFrom('filtered', {
      types: ['TestHappened'],
      tenantsOf: async () => [wanted],
    });
    tail.start();
    const kept = await append(wanted, happened(1), noted(2), happened(3));
    const skipped = await append(other, happened(4));
    await waitFor(async () => (await countsOf([kept[2]]))[0] === 1, 'the last wanted event');
    expect(await countsOf([...kept, ...skipped])).toEqual([1, 0, 1, 0]);
  });

  it('should dead-letter an event that keeps failing alone and handle the rest of its page', async () => {
    const tenantId = randomUUID();
    let poison = '';
    const tail = await tailFrom('poison', {
      maxAttempts: 3,
      handle: async (events, client) => {
        if (events.some((e) => e.id === poison)) throw new Error('cannot handle this one');
        await count(events, client);
      },
    });
    const events = await append(tenantId, happened(1), happened(2), happened(3));
    poison = events[1].id;
    await visible(events);
    for (let i = 0; i < 20; i++) {
      try {
        const { more } = await tail.step();
        if (!more) break;
      } catch {
        // The failing event alone: tried again until it is dead-lettered.
      }
    }
    expect(await countsOf(events)).toEqual([1, 0, 1]);
    const { rows } = await db.pool.query<{
      consumer: string;
      seq: string;
      error: string;
      delivery_count: number;
    }>(
      `SELECT consumer, seq::text AS seq, error, delivery_count FROM dead_letters WHERE consumer = 'poison'`,
    );
    expect(rows).toEqual([
      { consumer: 'poison', seq: events[1].position, error: 'cannot handle this one', delivery_count: 3 },
    ]);
  });

  it('should not dead-letter another event when a second tail moved the checkpoint past the failing one', async () => {
    const tenantId = randomUUID();
    let failing = '';
    // Takes over while the first still finishes its step (a deposed leader): handles one event.
    const other = newTail('moved-on', { pageSize: 1 });
    const deposed = await tailFrom('moved-on', {
      maxAttempts: 1,
      handle: async (events, client) => {
        if (events.length === 1 && events[0].id === failing) await other.step();
        if (events.some((e) => e.id === failing)) throw new Error('failed here, not elsewhere');
        await count(events, client);
      },
    });
    const events = await append(tenantId, happened(1), happened(2));
    failing = events[0].id;
    await visible(events);
    for (let i = 0; i < 5; i++) {
      try {
        await deposed.step();
      } catch {
        // Failed alone: dead-lettered at once (maxAttempts 1).
      }
    }
    while ((await other.step()).more);
    expect(await countsOf(events)).toEqual([1, 1]);
    const { rows } = await db.pool.query(`SELECT seq FROM dead_letters WHERE consumer = 'moved-on'`);
    expect(rows).toEqual([]);
  });

  it('should count attempts per event, not carry them over to the next one that fails', async () => {
    const tenantId = randomUUID();
    const failing = new Set<string>();
    const tail = await tailFrom('per-event', {
      maxAttempts: 3,
      handle: async (events, client) => {
        if (events.some((e) => failing.has(e.id))) throw new Error('not now');
        await count(events, client);
      },
    });
    const [first] = await append(tenantId, happened(1));
    failing.add(first.id);
    await visible([first]);
    // The page, then the event alone twice: two attempts short of a dead letter.
    expect(await tail.step()).toEqual({ handled: 0, more: true });
    for (let i = 0; i < 2; i++) await expect(tail.step()).rejects.toThrow('not now');
    // Another replica's tail handles it (this one lost the lead).
    failing.delete(first.id);
    expect((await newTail('per-event').step()).handled).toBe(1);
    const [second] = await append(tenantId, happened(2));
    failing.add(second.id);
    await visible([second]);
    await expect(tail.step()).rejects.toThrow('not now');
    const { rows } = await db.pool.query(`SELECT seq FROM dead_letters WHERE consumer = 'per-event'`);
    expect(rows).toEqual([]);
    failing.delete(second.id);
    while ((await tail.step()).more);
    expect(await countsOf([first, second])).toEqual([1, 1]);
  });
});
