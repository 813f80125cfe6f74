import { randomUUID } from 'node:crypto';
import { EventEnvelope, StreamCategory } from '@cronicorn/events';
import { LogCheckpoint, PostgresEventStore } from '@cronicorn/event-store';
import { createTestDatabase, createTestNats, TestDatabase, TestNats } from '@cronicorn/testing';
import {
  delay,
  envelopeOf,
  latestCheckpoint,
  storedMessages,
  waitFor,
  waitForCheckpointPast,
} from '../test/helpers';
import {
  EventBatchHandler,
  EventConsumer,
  EventConsumerSettings,
  EventHandler,
  eventConsumerSpec,
} from './event-consumer';
import { silentLogger } from './logger';
import { OutboxRelay } from './outbox-relay';
import { provisionConsumer } from './provisioning';

jest.setTimeout(60_000);

type Via = 'nats' | 'gap' | 'sweep';

describe('EventConsumer', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let store: PostgresEventStore;
  let relay: OutboxRelay;
  const consumers: EventConsumer[] = [];
  const tenantId = 'tcons';

  beforeAll(async () => {
    db = await createTestDatabase({ max: 20 });
    store = new PostgresEventStore(db.pool);
    await db.pool.query(
      `CREATE TABLE test_handled (consumer text, event_id uuid, stream_id text, version int, PRIMARY KEY (consumer, event_id))`,
    );
  });
  beforeEach(async () => {
    nats = await createTestNats();
    const head = await latestCheckpoint(db.pool);
    await db.pool.query(
      `INSERT INTO relay_checkpoints (name, transaction_id, position) VALUES ('nats', $1, $2)
       ON CONFLICT (name) DO UPDATE SET transaction_id = $1, position = $2`,
      [head.transactionId, head.position],
    );
    relay = new OutboxRelay({
      pool: db.pool,
      store,
      js: nats.js,
      names: nats.names,
      pollIntervalMs: 100,
      logger: silentLogger,
    });
    relay.start();
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.stop()));
    await relay.stop();
    await nats.cleanup();
  });
  afterAll(() => db.drop());

  /** A handler that records into a table in the consumer's transaction (a second insert would fail). */
  const recording =
    (name: string): EventHandler =>
    async (envelope, client) => {
      await client.query(
        'INSERT INTO test_handled (consumer, event_id, stream_id, version) VALUES ($1, $2, $3, $4)',
        [name, envelope.id, envelope.streamId, envelope.streamVersion],
      );
    };

  const consumerName = () => `c${randomUUID().slice(0, 8)}`;

  async function startConsumer(
    categories: StreamCategory[],
    options: Partial<EventConsumerSettings> & {
      handle?: EventHandler;
      handleBatch?: EventBatchHandler;
      sweepFrom?: LogCheckpoint;
      /** The durable's `ack_wait`. Default: provisioning's. */
      ackWaitMs?: number;
    } = {},
  ) {
    const { sweepFrom, ackWaitMs, name = consumerName(), handle, handleBatch, ...overrides } = options;
    const handled: Array<{ envelope: EventEnvelope; via: Via }> = [];
    await provisionConsumer(
      nats.jsm,
      nats.names.eventsStream,
      eventConsumerSpec(name, nats.names, categories, { maxDeliver: overrides.maxDeliver ?? 3, ackWaitMs }),
    );
    // Up to date with the log so far (or `sweepFrom`), like a consumer that was running.
    const head = sweepFrom ?? (await latestCheckpoint(db.pool));
    await db.pool.query(
      'INSERT INTO consumer_checkpoints (consumer, transaction_id, position) VALUES ($1, $2, $3)',
      [name, head.transactionId, head.position],
    );
    const consumer = new EventConsumer({
      name,
      names: nats.names,
      categories,
      ...(handleBatch ? { handleBatch } : { handle: handle ?? recording(name) }),
      js: nats.js,
      pool: db.pool,
      store,
      sweepIntervalMs: 3_600_000,
      retryDelayMs: () => 50,
      logger: silentLogger,
      ...overrides,
      metrics: { onHandled: (envelope, via) => handled.push({ envelope, via }) },
    });
    consumers.push(consumer);
    consumer.start();
    return { name, consumer, handled };
  }

  async function append(streamId: string, count: number, expectedVersion = 0): Promise<EventEnvelope[]> {
    const events = Array.from({ length: count }, (_, i) => ({
      type: 'TestHappened',
      data: { n: expectedVersion + i + 1 },
    }));
    return (await store.append(streamId, events, { expectedVersion, metadata: { tenantId, actor: 'test' } }))
      .envelopes;
  }

  async function published(events: EventEnvelope[]): Promise<void> {
    const ids = new Set(events.map((e) => e.id));
    await waitFor(
      async () =>
        (await storedMessages(nats.jsm, nats.names.eventsStream)).filter((m) => ids.has(envelopeOf(m).id))
          .length === ids.size,
      'the events on JetStream',
    );
  }

  /**
   * `streamCount` new job streams, each given `perRound` events in each of `rounds` rounds
   * (round after round, stream after stream), published.
   */
  async function appendToNewStreams(streamCount: number, perRound: number, rounds = 1) {
    const streams = Array.from({ length: streamCount }, () => `job-${randomUUID()}`);
    const appended: EventEnvelope[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const stream of streams) appended.push(...(await append(stream, perRound, round * perRound)));
    }
    await published(appended);
    return { streams, appended };
  }

  /** `recording`, noting the transaction each event was handled in. */
  const recordingTransactions =
    (name: string, transactionOf: Map<string, string>): EventHandler =>
    async (envelope, client) => {
      const { rows } = await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
      transactionOf.set(envelope.id, rows[0].xid);
      await recording(name)(envelope, client);
    };

  /** Simulates JetStream losing acknowledged messages (a broker crash before fsync). */
  async function loseOnJetStream(event: EventEnvelope): Promise<void> {
    const msg = (await storedMessages(nats.jsm, nats.names.eventsStream)).find(
      (m) => envelopeOf(m).id === event.id,
    );
    if (!msg) throw new Error(`${event.id} is not on JetStream`);
    await nats.jsm.streams.deleteMessage(nats.names.eventsStream, msg.seq);
  }

  async function rowsOf(name: string) {
    const { rows } = await db.pool.query<{ stream_id: string; version: number }>(
      'SELECT stream_id, version FROM test_handled WHERE consumer = $1 ORDER BY stream_id, version',
      [name],
    );
    return rows;
  }

  async function versionOf(name: string, streamId: string): Promise<number | null> {
    const { rows } = await db.pool.query<{ version: number }>(
      'SELECT version FROM consumer_stream_versions WHERE consumer = $1 AND stream_id = $2',
      [name, streamId],
    );
    return rows[0]?.version ?? null;
  }

  async function settled(name: string): Promise<boolean> {
    const info = await nats.jsm.consumers.info(nats.names.eventsStream, name);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }

  describe('When events arrive on NATS', () => {
    it('should handle each wanted event once, in stream order, and ack the other categories without database work', async () => {
      const { name, handled } = await startConsumer(['job', 'endpoint']);
      const job = `job-${randomUUID()}`;
      const run = `run-${randomUUID()}`;

      const jobEvents = [
        ...(await append(job, 2)),
        ...(await append(run, 2, 0)),
        ...(await append(job, 1, 2)),
      ].filter((e) => e.streamId === job);
      await waitFor(() => handled.length === 3, 'three handled events');
      // A copy past the duplicate window (published under another msg id) changes nothing.
      await nats.js.publish(nats.names.subjectOfEnvelope(jobEvents[1]), JSON.stringify(jobEvents[1]));
      await waitFor(() => settled(name), 'every message acked');

      expect(handled.map((h) => [h.envelope.streamVersion, h.via])).toEqual([
        [1, 'nats'],
        [2, 'nats'],
        [3, 'nats'],
      ]);
      expect(await rowsOf(name)).toEqual([1, 2, 3].map((version) => ({ stream_id: job, version })));
      expect(await versionOf(name, job)).toBe(3);
      expect(await versionOf(name, run)).toBeNull();
      const { rowCount } = await db.pool.query('SELECT 1 FROM dead_letters WHERE consumer = $1', [name]);
      expect(rowCount).toBe(0);
    });
  });

  describe('When many events wait at once', () => {
    it('should handle them in shared transactions, each once and in stream order, over several lanes', async () => {
      const { streams, appended } = await appendToNewStreams(12, 2, 5);

      const name = consumerName();
      const transactionOf = new Map<string, string>();
      const { handled } = await startConsumer(['job'], {
        name,
        concurrency: 3,
        batchSize: 20,
        handle: recordingTransactions(name, transactionOf),
      });
      await waitFor(() => handled.length === appended.length, 'every event handled');
      await waitFor(() => settled(name), 'every message acked');

      expect(await rowsOf(name)).toHaveLength(appended.length);
      for (const stream of streams) {
        const order = handled
          .filter((h) => h.envelope.streamId === stream)
          .map((h) => h.envelope.streamVersion);
        expect(order).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(await versionOf(name, stream)).toBe(10);
      }
      const transactions = new Set(transactionOf.values()).size;
      expect(transactions).toBeLessThanOrEqual(appended.length / 4);
    });

    it('should commit the rest of a batch when one of its events fails, and dead-letter only that one', async () => {
      const before = await latestCheckpoint(db.pool);
      const { appended } = await appendToNewStreams(6, 3);
      const bad = appended[7];

      const name = consumerName();
      const attemptsOnBad: number[] = [];
      const { handled } = await startConsumer(['job'], {
        name,
        batchSize: 50,
        maxDeliver: 2,
        // The event behind the bad one may run out of attempts before the bad one is skipped.
        sweepFrom: before,
        sweepIntervalMs: 200,
        handle: async (envelope, client) => {
          if (envelope.id === bad.id) {
            attemptsOnBad.push(Date.now());
            throw new Error('projection broke');
          }
          await recording(name)(envelope, client);
        },
      });
      await waitFor(
        async () => (await versionOf(name, bad.streamId)) === 3,
        'the failing stream moved on',
        30_000,
      );
      await waitFor(() => settled(name), 'every message acked');

      // A row per event but the bad one; a second insert of any would have failed its transaction.
      expect((await rowsOf(name)).length).toBe(appended.length - 1);
      expect(handled.map((h) => h.envelope.id).sort()).toEqual(
        appended
          .filter((e) => e.id !== bad.id)
          .map((e) => e.id)
          .sort(),
      );
      const { rows } = await db.pool.query<{ error: string }>(
        'SELECT error FROM dead_letters WHERE consumer = $1',
        [name],
      );
      expect(rows).toEqual([{ error: expect.stringContaining(`${bad.streamId}@2`) }]);
      // In the batch, alone, then alone on its redelivery; the sweep may try it once more.
      expect(attemptsOnBad.length).toBeGreaterThanOrEqual(3);
    });
  });

  describe('When the handler takes a batch at once', () => {
    /** Records a batch in one statement, as set-based handlers do. */
    const recordingBatch =
      (name: string, calls: number[]): EventBatchHandler =>
      async (envelopes, client) => {
        calls.push(envelopes.length);
        await client.query(
          `INSERT INTO test_handled (consumer, event_id, stream_id, version)
           SELECT $1, e.id, e.stream_id, e.version FROM unnest($2::uuid[], $3::text[], $4::int[]) AS e (id, stream_id, version)`,
          [
            name,
            envelopes.map((e) => e.id),
            envelopes.map((e) => e.streamId),
            envelopes.map((e) => e.streamVersion),
          ],
        );
      };

    it("should give it each transaction's events in one call, each once and in stream order", async () => {
      const { streams, appended } = await appendToNewStreams(8, 2, 4);

      const name = consumerName();
      const calls: number[] = [];
      const order = new Map<string, number[]>();
      const { handled } = await startConsumer(['job'], {
        name,
        batchSize: 30,
        handleBatch: async (envelopes, client) => {
          for (const e of envelopes)
            order.set(e.streamId, [...(order.get(e.streamId) ?? []), e.streamVersion]);
          await recordingBatch(name, calls)(envelopes, client);
        },
      });
      await waitFor(() => handled.length === appended.length, 'every event handled');
      await waitFor(() => settled(name), 'every message acked');

      expect(await rowsOf(name)).toHaveLength(appended.length);
      for (const stream of streams) expect(order.get(stream)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(calls.reduce((a, b) => a + b, 0)).toBe(appended.length);
      expect(calls.length).toBeLessThanOrEqual(appended.length / 4);
    });

    it('should handle every event once when the handler fails only on batches', async () => {
      const { appended } = await appendToNewStreams(4, 2);

      const name = consumerName();
      const calls: number[] = [];
      const { handled } = await startConsumer(['job'], {
        name,
        batchSize: 50,
        lingerMs: 500,
        handleBatch: async (envelopes, client) => {
          if (envelopes.length > 1) throw new Error('only one at a time');
          await recordingBatch(name, calls)(envelopes, client);
        },
      });
      await waitFor(() => handled.length === appended.length, 'every event handled');
      await waitFor(() => settled(name), 'every message acked');

      expect((await rowsOf(name)).map((r) => `${r.stream_id}@${r.version}`).sort()).toEqual(
        appended.map((e) => `${e.streamId}@${e.streamVersion}`).sort(),
      );
    });

    it('should pin a failing batch on its one bad event: the others are handled, that one dead-lettered', async () => {
      const before = await latestCheckpoint(db.pool);
      const { appended } = await appendToNewStreams(5, 3);
      const bad = appended[4];

      const name = consumerName();
      const calls: number[] = [];
      const { handled } = await startConsumer(['job'], {
        name,
        batchSize: 50,
        maxDeliver: 2,
        sweepFrom: before,
        sweepIntervalMs: 200,
        handleBatch: async (envelopes, client) => {
          if (envelopes.some((e) => e.id === bad.id)) throw new Error('projection broke');
          await recordingBatch(name, calls)(envelopes, client);
        },
      });
      await waitFor(
        async () => (await versionOf(name, bad.streamId)) === 3,
        'the failing stream moved on',
        30_000,
      );
      await waitFor(() => settled(name), 'every message acked');

      expect((await rowsOf(name)).length).toBe(appended.length - 1);
      expect(handled.map((h) => h.envelope.id)).not.toContain(bad.id);
      const { rows } = await db.pool.query<{ error: string }>(
        'SELECT error FROM dead_letters WHERE consumer = $1',
        [name],
      );
      expect(rows).toEqual([{ error: expect.stringContaining(`${bad.streamId}@2`) }]);
    });
  });

  describe('When a lane is busy for longer than the ack wait', () => {
    it('should keep the deliveries it holds from being redelivered or dead-lettered', async () => {
      const name = consumerName();
      const calls = new Map<string, number>();
      let blocking = false;
      const { handled } = await startConsumer(['job'], {
        name,
        ackWaitMs: 1_000,
        concurrency: 1,
        handle: async (envelope, client) => {
          calls.set(envelope.id, (calls.get(envelope.id) ?? 0) + 1);
          if (!blocking) {
            // The first event holds the only lane for three and a half ack waits.
            blocking = true;
            await delay(3_500);
          }
          await recording(name)(envelope, client);
        },
      });
      const appended = await append(`job-${randomUUID()}`, 1);
      await waitFor(() => blocking, 'the lane blocked by the first event');
      // Events of other streams, delivered and queued in the lane behind the first.
      const behind: EventEnvelope[] = [];
      for (let i = 0; i < 5; i++) behind.push(...(await append(`job-${randomUUID()}`, 1)));
      appended.push(...behind);
      await published(behind);
      await waitFor(() => handled.length === appended.length, 'every event handled');
      await waitFor(() => settled(name), 'every message acked');

      const info = await nats.jsm.consumers.info(nats.names.eventsStream, name);
      // One delivery per event: the consumer sequence counts redeliveries too.
      expect(info.delivered.consumer_seq).toBe(appended.length);
      expect(info.num_redelivered).toBe(0);
      const { rows } = await db.pool.query<{ error: string }>(
        'SELECT error FROM dead_letters WHERE consumer = $1',
        [name],
      );
      expect(rows).toEqual([]);
      expect([...calls.values()]).toEqual(appended.map(() => 1));
    });
  });

  describe('When the consumer lingers', () => {
    it('should let events that arrive one by one within the linger share a transaction', async () => {
      const name = consumerName();
      const transactionOf = new Map<string, string>();
      const { handled } = await startConsumer(['job'], {
        name,
        batchSize: 50,
        lingerMs: 1_000,
        handle: recordingTransactions(name, transactionOf),
      });
      const appended: EventEnvelope[] = [];
      for (let i = 0; i < 4; i++) {
        appended.push(...(await append(`job-${randomUUID()}`, 1)));
        await delay(50);
      }
      await waitFor(() => handled.length === appended.length, 'every event handled');

      expect(new Set(appended.map((e) => transactionOf.get(e.id))).size).toBe(1);
    });
  });

  describe('When NATS has a backlog for the consumer', () => {
    it('should leave the queued events to NATS instead of sweeping them', async () => {
      const before = await latestCheckpoint(db.pool);
      const appended: EventEnvelope[] = [];
      for (let i = 0; i < 30; i++) appended.push(...(await append(`job-${randomUUID()}`, 1)));
      await published(appended);
      await delay(300);

      const name = consumerName();
      const { handled } = await startConsumer(['job'], {
        name,
        batchSize: 1,
        sweepFrom: before,
        sweepIntervalMs: 100,
        handle: async (envelope, client) => {
          await delay(40);
          await recording(name)(envelope, client);
        },
      });
      await waitFor(() => handled.length === appended.length, 'every event handled');

      expect(handled.filter((h) => h.via === 'sweep')).toEqual([]);
      expect(await rowsOf(name)).toHaveLength(appended.length);
    });
  });

  describe('When another replica holds the deliveries', () => {
    it('should sweep by age in the replica NATS delivers nothing to', async () => {
      const before = await latestCheckpoint(db.pool);
      const [lost] = await append(`job-${randomUUID()}`, 1);
      await published([lost]);
      await loseOnJetStream(lost);
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      const name = consumerName();
      await startConsumer(['job'], { name, sweepFrom: before, handle: () => held });
      try {
        await append(`job-${randomUUID()}`, 1);
        await waitFor(
          async () => (await nats.jsm.consumers.info(nats.names.eventsStream, name)).num_ack_pending === 1,
          'a delivery held by the first replica',
        );

        const swept: string[] = [];
        const second = new EventConsumer({
          name,
          names: nats.names,
          categories: ['job'],
          handle: recording(name),
          js: nats.js,
          pool: db.pool,
          store,
          batchSize: 1,
          sweepIntervalMs: 50,
          sweepGraceMs: 100,
          logger: silentLogger,
          metrics: { onHandled: (envelope, via) => via === 'sweep' && swept.push(envelope.id) },
        });
        consumers.push(second);
        second.start();

        await waitFor(() => swept.includes(lost.id), 'the lost event swept by the second replica');
      } finally {
        release();
      }
    });
  });

  describe('When run streams are long closed', () => {
    const closedStreams = {
      categories: ['run'] as const,
      closingTypes: ['TestClosed'],
      retentionMs: 24 * 3_600_000,
    };
    const HOURS = 3_600_000;

    /** A run-like stream: `TestHappened` events, then `TestClosed` when `closed`. */
    async function appendRun(closed: boolean, occurredAt = new Date()): Promise<EventEnvelope[]> {
      const types = ['TestHappened', closed ? 'TestClosed' : 'TestHappened'];
      return (
        await store.append(
          `run-${randomUUID()}`,
          types.map((type) => ({ type, data: {} })),
          { expectedVersion: 0, metadata: { tenantId, actor: 'test' }, occurredAt },
        )
      ).envelopes;
    }

    async function setRows(name: string, rows: Array<[streamId: string, version: number, ageHours: number]>) {
      await db.pool.query(
        `INSERT INTO consumer_stream_versions (consumer, stream_id, version, updated_at)
         SELECT $1, s.stream_id, s.version, now() - s.age * interval '1 hour'
           FROM unnest($2::text[], $3::int[], $4::int[]) AS s (stream_id, version, age)
         ON CONFLICT (consumer, stream_id) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at`,
        [name, rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])],
      );
    }

    it('should prune the row of a closed stream a day old once the sweep is past it, and keep the others', async () => {
      const [behindSweep, recent, unfinished] = [
        (await appendRun(true))[0].streamId,
        (await appendRun(true))[0].streamId,
        (await appendRun(false))[0].streamId,
      ];
      const oldJob = `job-${randomUUID()}`;
      await append(oldJob, 2);
      const { name, consumer, handled } = await startConsumer(['run', 'job'], { closedStreams });
      const aheadOfSweep = (await appendRun(true))[0].streamId;
      await waitFor(() => handled.length === 10, 'every event handled');
      await setRows(name, [
        [behindSweep, 2, 25],
        [recent, 2, 1],
        [unfinished, 2, 25],
        [oldJob, 2, 25],
        [aheadOfSweep, 2, 25],
      ]);

      expect(await consumer.pruneClosedStreams()).toBe(1);

      expect(await versionOf(name, behindSweep)).toBeNull();
      expect(await versionOf(name, recent)).toBe(2);
      expect(await versionOf(name, unfinished)).toBe(2);
      expect(await versionOf(name, oldJob)).toBe(2);
      expect(await versionOf(name, aheadOfSweep)).toBe(2);
    });

    it('should not handle again an event of a pruned stream that NATS brings back', async () => {
      const before = await latestCheckpoint(db.pool);
      const events = await appendRun(true, new Date(Date.now() - 25 * HOURS));
      const calls: string[] = [];
      const name = consumerName();
      const { consumer, handled } = await startConsumer(['run'], {
        name,
        sweepFrom: before,
        closedStreams,
        handle: async (envelope, client) => {
          calls.push(envelope.streamId);
          await recording(name)(envelope, client);
        },
      });
      await waitFor(() => handled.length === 2, 'the run handled');
      await consumer.sweep();
      await setRows(name, [[events[0].streamId, 2, 25]]);
      expect(await consumer.pruneClosedStreams()).toBe(1);

      await nats.js.publish(nats.names.subjectOfEnvelope(events[1]), JSON.stringify(events[1]), {
        msgID: randomUUID(),
      });
      const later = await append(`run-${randomUUID()}`, 1);
      await waitFor(() => handled.some((h) => h.envelope.id === later[0].id), 'a later event handled');
      await waitFor(() => settled(name), 'every message acked');

      expect(calls.filter((streamId) => streamId === events[0].streamId)).toHaveLength(2);
      expect(await versionOf(name, events[0].streamId)).toBeNull();
    });

    it('should handle a run event that was never handled, however old', async () => {
      const { handled } = await startConsumer(['run'], { closedStreams });
      const [old] = await appendRun(true, new Date(Date.now() - 25 * HOURS));

      await waitFor(() => handled.some((h) => h.envelope.id === old.id), 'the old run event handled');
    });
  });

  describe('When JetStream lost a message', () => {
    it('should read it from the store when a later version of its stream arrives', async () => {
      const job = `job-${randomUUID()}`;
      const events = await append(job, 2);
      await published(events);
      await loseOnJetStream(events[0]);

      const { name, handled } = await startConsumer(['job']);
      await waitFor(() => handled.length === 2, 'both events handled');

      expect(handled.map((h) => [h.envelope.id, h.via])).toEqual([
        [events[0].id, 'gap'],
        [events[1].id, 'nats'],
      ]);
      expect(await rowsOf(name)).toEqual([1, 2].map((version) => ({ stream_id: job, version })));
    });

    it('should not let an event dated in the future (an appender clock ahead) hold the sweep back', async () => {
      const before = await latestCheckpoint(db.pool);
      const aheadStream = `job-${randomUUID()}`;
      const { envelopes: ahead } = await store.append(
        aheadStream,
        [{ type: 'TestHappened', data: { n: 1 } }],
        {
          expectedVersion: 0,
          metadata: { tenantId, actor: 'test' },
          occurredAt: new Date(Date.now() + 3_600_000),
        },
      );
      const [after] = await append(`job-${randomUUID()}`, 1);
      await published([...ahead, after]);
      await loseOnJetStream(ahead[0]);
      await loseOnJetStream(after);

      const { handled } = await startConsumer(['job'], { sweepIntervalMs: 100, sweepFrom: before });
      await waitFor(() => handled.length === 2, 'both lost events handled');

      expect(handled.map((h) => [h.envelope.id, h.via])).toEqual([
        [ahead[0].id, 'sweep'],
        [after.id, 'sweep'],
      ]);
    });

    it('should find it with the sweep when it was the last event of its stream', async () => {
      const job = `job-${randomUUID()}`;
      const before = await latestCheckpoint(db.pool);
      const [event] = await append(job, 1);
      await published([event]);
      await loseOnJetStream(event);

      const { name, handled } = await startConsumer(['job'], { sweepIntervalMs: 100, sweepFrom: before });
      await waitFor(() => handled.length === 1, 'the lost event handled');

      expect(handled[0]).toMatchObject({ envelope: { id: event.id }, via: 'sweep' });
      expect(await rowsOf(name)).toEqual([{ stream_id: job, version: 1 }]);
      await waitForCheckpointPast(
        db.pool,
        'SELECT * FROM consumer_checkpoints WHERE consumer = $1',
        [name],
        event,
      );
    });
  });

  describe('When the handler fails on one event', () => {
    it('should go on with the others, retry it, then dead-letter it and move its stream on', async () => {
      const bad = `job-${randomUUID()}`;
      const name = consumerName();
      let attempts = 0;
      const { handled } = await startConsumer(['job'], {
        name,
        handle: async (envelope, client) => {
          if (envelope.streamId === bad && envelope.streamVersion === 1) {
            attempts += 1;
            throw new Error('projection broke');
          }
          await recording(name)(envelope, client);
        },
      });
      const good = `job-${randomUUID()}`;

      await append(bad, 1);
      await append(good, 1);
      await waitFor(async () => (await versionOf(name, bad)) === 1, 'the failing event skipped');
      const [next] = await append(bad, 1, 1);
      await waitFor(
        () => handled.some((h) => h.envelope.id === next.id),
        'the next event of the failing stream',
      );

      expect(attempts).toBe(3);
      expect(await rowsOf(name)).toEqual(
        [
          { stream_id: bad, version: 2 },
          { stream_id: good, version: 1 },
        ].sort((a, b) => a.stream_id.localeCompare(b.stream_id)),
      );
      const { rows } = await db.pool.query<{ stream: string; error: string; delivery_count: number }>(
        'SELECT stream, error, delivery_count FROM dead_letters WHERE consumer = $1',
        [name],
      );
      expect(rows).toEqual([
        {
          stream: nats.names.eventsStream,
          error: expect.stringContaining('projection broke'),
          delivery_count: 3,
        },
      ]);
      expect(rows[0].error).toContain(`${bad}@1`);
    });

    it('should handle the earlier events it read from the store when it dead-letters an event behind a gap', async () => {
      const stream = `job-${randomUUID()}`;
      const [first] = await append(stream, 1);
      await published([first]);
      await loseOnJetStream(first);

      const name = consumerName();
      let attempts = 0;
      const { handled } = await startConsumer(['job'], {
        name,
        maxDeliver: 2,
        handle: async (envelope, client) => {
          if (envelope.streamVersion === 2) {
            attempts += 1;
            throw new Error('broken for good');
          }
          await recording(name)(envelope, client);
        },
      });
      const [second] = await append(stream, 1, 1);
      await waitFor(async () => (await versionOf(name, stream)) === 2, 'the failing event skipped');
      await waitFor(() => settled(name), 'every message settled');

      expect(attempts).toBe(2);
      expect(handled.map((h) => [h.envelope.id, h.via])).toEqual([[first.id, 'gap']]);
      expect(await rowsOf(name)).toEqual([{ stream_id: stream, version: 1 }]);
      const { rows } = await db.pool.query<{ error: string }>(
        'SELECT error FROM dead_letters WHERE consumer = $1',
        [name],
      );
      expect(rows).toEqual([{ error: expect.stringContaining(`${second.streamId}@2`) }]);
    });

    it('should handle the swept event whose earlier event it dead-lettered, in the same pass', async () => {
      const stream = `job-${randomUUID()}`;
      const [first] = await append(stream, 1);
      const between = await latestCheckpoint(db.pool);
      const [second] = await append(stream, 1, 1);
      await published([first, second]);
      await loseOnJetStream(first);
      await loseOnJetStream(second);

      const name = consumerName();
      const { handled } = await startConsumer(['job'], {
        name,
        sweepFrom: between,
        sweepIntervalMs: 50,
        maxDeliver: 1,
        handle: async (envelope, client) => {
          if (envelope.streamVersion === 1) throw new Error('broken for good');
          await recording(name)(envelope, client);
        },
      });
      await waitFor(() => handled.some((h) => h.envelope.id === second.id), 'the second event handled');

      expect(handled.map((h) => [h.envelope.id, h.via])).toEqual([[second.id, 'sweep']]);
      expect(await versionOf(name, stream)).toBe(2);
    });

    it('should dead-letter it from the sweep too when it never came through NATS', async () => {
      const bad = `job-${randomUUID()}`;
      const before = await latestCheckpoint(db.pool);
      const [event] = await append(bad, 1);
      await published([event]);
      await loseOnJetStream(event);
      let attempts = 0;

      const { name } = await startConsumer(['job'], {
        sweepFrom: before,
        sweepIntervalMs: 50,
        maxDeliver: 2,
        handle: async () => {
          attempts += 1;
          throw new Error('still broken');
        },
      });
      await waitFor(async () => (await versionOf(name, bad)) === 1, 'the failing event skipped');

      expect(attempts).toBe(2);
      const { rows } = await db.pool.query<{ stream: string; seq: string; delivery_count: number }>(
        'SELECT stream, seq::text, delivery_count FROM dead_letters WHERE consumer = $1',
        [name],
      );
      expect(rows).toEqual([{ stream: '$event-store', seq: event.position, delivery_count: 2 }]);
    });
  });
});
