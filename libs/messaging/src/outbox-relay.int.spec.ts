import { randomUUID } from 'node:crypto';
import { Event, EventEnvelope } from '@cronicorn/events';
import { LogCheckpoint, PostgresEventStore } from '@cronicorn/event-store';
import { jetstream } from '@nats-io/jetstream';
import { Pool } from 'pg';
import { createTestDatabase, createTestNats, TcpProxy, TestDatabase, TestNats } from '@cronicorn/testing';
import {
  envelopeOf,
  exitOf,
  latestCheckpoint,
  lineFrom,
  runFixture,
  storedMessages,
  waitFor,
  waitForCheckpointPast,
} from '../test/helpers';
import { silentLogger } from './logger';
import { connectNats } from './nats';
import { OutboxRelay, OutboxRelayOptions, PublishedBatch } from './outbox-relay';

jest.setTimeout(60_000);

const happened = (n: number): Event => ({ type: 'TestHappened', data: { n } });

describe('OutboxRelay', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let store: PostgresEventStore;
  let start: LogCheckpoint;
  const relays: OutboxRelay[] = [];

  beforeAll(async () => {
    db = await createTestDatabase({ max: 20 });
    store = new PostgresEventStore(db.pool);
  });
  // Each test gets its own streams, and its relays start where the previous test's ended.
  beforeEach(async () => {
    nats = await createTestNats();
    start = await latestCheckpoint(db.pool);
    await db.pool.query(
      `INSERT INTO relay_checkpoints (name, transaction_id, position) VALUES ('nats', $1, $2)
       ON CONFLICT (name) DO UPDATE SET transaction_id = $1, position = $2`,
      [start.transactionId, start.position],
    );
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((relay) => relay.stop()));
    await nats.cleanup();
  });
  afterAll(() => db.drop());

  function startRelay(options: Partial<OutboxRelayOptions> = {}): OutboxRelay {
    const relay = new OutboxRelay({
      pool: db.pool,
      store,
      js: nats.js,
      names: nats.names,
      pollIntervalMs: 200,
      standbyRetryMs: 100,
      logger: silentLogger,
      ...options,
    });
    relays.push(relay);
    relay.start();
    return relay;
  }

  async function appendSome(count: number, category: 'job' | 'run' = 'job'): Promise<EventEnvelope[]> {
    const tenantId = `t${randomUUID().slice(0, 8)}`;
    const result = await store.append(
      `${category}-${randomUUID()}`,
      Array.from({ length: count }, (_, i) => happened(i + 1)),
      { expectedVersion: 0, metadata: { tenantId, actor: 'test' } },
    );
    return result.envelopes;
  }

  const inStream = () => storedMessages(nats.jsm, nats.names.eventsStream);

  /** Waits until the relay's checkpoint has passed every event committed so far. */
  async function waitForRelayToCatchUp(): Promise<void> {
    const { rows } = await db.pool.query<{ event_id: string }>(
      'SELECT event_id FROM events ORDER BY transaction_id DESC, position DESC LIMIT 1',
    );
    await waitForCheckpointPast(db.pool, "SELECT * FROM relay_checkpoints WHERE name = 'nats'", [], {
      id: rows[0].event_id,
    });
  }

  describe('When events are appended', () => {
    it('should publish each envelope once on its subject with Nats-Msg-Id = event id', async () => {
      startRelay();
      const appended = [...(await appendSome(3, 'job')), ...(await appendSome(2, 'run'))];

      await waitFor(async () => (await inStream()).length >= appended.length, 'five messages');
      await waitForRelayToCatchUp();

      const messages = await inStream();
      expect(messages).toHaveLength(appended.length);
      expect(messages.map(envelopeOf)).toEqual(appended);
      messages.forEach((msg, i) => {
        expect(msg.subject).toBe(nats.names.subjectOfEnvelope(appended[i]));
        expect(msg.header.get('Nats-Msg-Id')).toBe(appended[i].id);
      });
      expect(messages[3].subject).toBe(
        `${nats.names.eventsSubjectPrefix}.${appended[3].tenantId}.run.TestHappened`,
      );
    });

    it('should publish nothing new when run again from an earlier checkpoint', async () => {
      startRelay();
      const appended = await appendSome(4);
      await waitForRelayToCatchUp();
      await relays.splice(0)[0].stop();
      await db.pool.query('UPDATE relay_checkpoints SET transaction_id = $1, position = $2', [
        start.transactionId,
        start.position,
      ]);
      const batches: PublishedBatch[] = [];

      startRelay({ metrics: { onPublished: (batch) => batches.push(batch) } });
      await waitForRelayToCatchUp();

      expect(await inStream()).toHaveLength(appended.length);
      expect(batches.reduce((sum, b) => sum + b.duplicates, 0)).toBe(appended.length);
    });
  });

  describe('When several relays run', () => {
    it('should let one lead and hand over when the leader dies', async () => {
      const child = runFixture('relay.ts', {
        DATABASE_URL: db.url,
        NATS_URL: nats.url,
        NATS_NAMESPACE: nats.names.namespace,
      });
      await lineFrom(child, 'leader');
      const standby = startRelay();
      const early = await appendSome(2);
      await waitForRelayToCatchUp();
      expect(standby.isLeader).toBe(false);

      child.kill('SIGKILL');
      await exitOf(child);
      await waitFor(() => standby.isLeader, 'the standby to take over');
      const later = await appendSome(2);
      await waitForRelayToCatchUp();

      expect((await inStream()).map((m) => envelopeOf(m).id)).toEqual([...early, ...later].map((e) => e.id));
    });

    it('should win the lock back and go on after Postgres cut its connections', async () => {
      let terms = 0;
      const relay = startRelay({ metrics: { onLeadership: (leader) => (terms += leader ? 1 : 0) } });
      await waitFor(() => relay.isLeader, 'a leader');
      const before = await appendSome(1);
      await waitForRelayToCatchUp();

      await db.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      const after = await appendSome(2);
      await waitForRelayToCatchUp();

      expect(relay.isLeader).toBe(true);
      expect(terms).toBeGreaterThanOrEqual(2);
      expect((await inStream()).map((m) => envelopeOf(m).id)).toEqual([...before, ...after].map((e) => e.id));
    });
  });

  describe('When the leader loses Postgres without its connections closing', () => {
    it('should give up the lock so that a standby takes over and publishes', async () => {
      const proxy = await TcpProxy.start(5432);
      const frozenPool = new Pool({ connectionString: proxy.wrapUrl(db.url), max: 5 });
      // The frozen connections fail when the proxy closes: not while a query waits on them.
      frozenPool.on('error', () => undefined);
      frozenPool.on('connect', (client) => client.on('error', () => undefined));
      try {
        const leader = startRelay({
          pool: frozenPool,
          store: new PostgresEventStore(frozenPool),
          lockCheckTimeoutMs: 1_000,
        });
        await waitFor(() => leader.isLeader, 'a leader');
        const standby = startRelay();
        const before = await appendSome(1);
        await waitForRelayToCatchUp();
        expect(standby.isLeader).toBe(false);

        proxy.freeze();
        await waitFor(() => standby.isLeader, 'the standby to take over', 20_000);
        expect(leader.isLeader).toBe(false);
        const after = await appendSome(2);
        await waitForRelayToCatchUp();
        expect((await inStream()).map((m) => envelopeOf(m).id)).toEqual(
          [...before, ...after].map((e) => e.id),
        );
      } finally {
        // Cut the frozen connections so that the old leader's stuck queries fail and it can stop.
        await proxy.close();
        await Promise.all(relays.splice(0).map((relay) => relay.stop()));
        await frozenPool.end();
      }
    });
  });

  describe('When NATS goes away for a while', () => {
    it('should retry and publish everything once NATS is back', async () => {
      const proxy = await TcpProxy.start(Number(new URL(nats.url).port || 4222));
      const nc = await connectNats(proxy.wrapUrl(nats.url), 'relay-behind-proxy', { logger: silentLogger });
      try {
        let failures = 0;
        const relay = startRelay({
          js: jetstream(nc),
          publishTimeoutMs: 500,
          metrics: { onError: () => (failures += 1) },
        });
        await waitFor(() => relay.isLeader, 'a leader');

        await proxy.pause();
        const appended = await appendSome(3);
        await waitFor(() => failures > 0, 'a failed publish');
        await proxy.resume();
        await waitForRelayToCatchUp();

        expect((await inStream()).map((m) => envelopeOf(m).id)).toEqual(appended.map((e) => e.id));
      } finally {
        await Promise.all(relays.splice(0).map((relay) => relay.stop()));
        await nc.close();
        await proxy.close();
      }
    });
  });

  describe('When a writer is killed after its commit and before any publish', () => {
    it('should still publish the event exactly once once a relay runs', async () => {
      const streamId = `job-${randomUUID()}`;
      const child = runFixture('append-then-hang.ts', {
        DATABASE_URL: db.url,
        STREAM_ID: streamId,
        TENANT_ID: 'tkill',
      });
      const eventId = await lineFrom(child, 'committed ');
      child.kill('SIGKILL');
      expect((await exitOf(child)).signal).toBe('SIGKILL');
      expect(await inStream()).toHaveLength(0);

      startRelay();
      await waitFor(async () => (await inStream()).length >= 1, 'the event on JetStream');
      await waitForRelayToCatchUp();

      const messages = await inStream();
      expect(messages.map((m) => envelopeOf(m).id)).toEqual([eventId]);
      expect(envelopeOf(messages[0])).toMatchObject({ streamId, streamVersion: 1, tenantId: 'tkill' });
    });
  });

  describe('When a relay is killed after publishing and before its checkpoint', () => {
    it('should leave every event exactly once in the stream after a restart', async () => {
      const appended = await appendSome(5);
      const child = runFixture('relay.ts', {
        KILL_AFTER_PUBLISH: '1',
        DATABASE_URL: db.url,
        NATS_URL: nats.url,
        NATS_NAMESPACE: nats.names.namespace,
      });
      expect((await exitOf(child)).signal).toBe('SIGKILL');
      const { rows } = await db.pool.query<{ position: string }>(
        'SELECT position::text FROM relay_checkpoints',
      );
      expect(rows[0].position).toBe(start.position);
      expect(await inStream()).toHaveLength(appended.length);

      startRelay();
      await waitForRelayToCatchUp();

      expect((await inStream()).map((m) => envelopeOf(m).id)).toEqual(appended.map((e) => e.id));
    });
  });
});
