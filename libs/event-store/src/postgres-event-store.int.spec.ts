import { randomUUID } from 'node:crypto';
import { CURRENT_SCHEMA_VERSION, Event, EventEnvelope, UpcasterRegistry } from '@cronicorn/events';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { PoolClient } from 'pg';
import { ConcurrencyError } from './errors';
import { LOG_START, LogCheckpoint } from './event-store';
import { PostgresEventStore } from './postgres-event-store';

const tenant = () => `t${randomUUID().slice(0, 8)}`;
const jobStream = () => `job-${randomUUID()}`;
const happened = (n: number): Event => ({ type: 'TestHappened', data: { n } });
const metadata = (tenantId: string) => ({ tenantId, correlationId: randomUUID(), actor: 'test' });
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await delay(5);
  }
}

/** Reads the whole visible log of one tenant, page by page. */
async function drain(store: PostgresEventStore, tenantId: string, from: LogCheckpoint = LOG_START) {
  const events: EventEnvelope[] = [];
  let checkpoint = from;
  for (;;) {
    const page = await store.readAll(checkpoint, { tenantId, limit: 3 });
    events.push(...page.events);
    checkpoint = page.checkpoint;
    if (!page.events.length) return { events, checkpoint };
  }
}

describe('PostgresEventStore', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase({ max: 40 });
    store = new PostgresEventStore(db.pool);
  });
  afterAll(() => db.drop());

  async function inTransaction(): Promise<PoolClient> {
    const client = await db.pool.connect();
    await client.query('BEGIN');
    return client;
  }
  async function finish(client: PoolClient, command: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    await client.query(command);
    client.release();
  }

  describe('When appending and reading a stream', () => {
    it('should return stored envelopes with metadata and positions as decimal strings', async () => {
      const streamId = jobStream();
      const meta = metadata(tenant());

      const result = await store.append(streamId, [happened(1), happened(2)], {
        expectedVersion: 0,
        metadata: meta,
      });

      expect(result.nextExpectedVersion).toBe(2);
      expect(result.envelopes).toHaveLength(2);
      const [first, second] = result.envelopes;
      expect(first).toMatchObject({
        type: 'TestHappened',
        schemaVersion: 1,
        streamId,
        streamVersion: 1,
        tenantId: meta.tenantId,
        data: { n: 1 },
        metadata: meta,
      });
      expect(first.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(first.occurredAt).toBe(new Date(first.occurredAt).toISOString());
      expect(typeof first.position).toBe('string');
      expect(first.position).toMatch(/^\d+$/);
      expect(BigInt(second.position)).toBe(BigInt(first.position) + 1n);
      expect(result.lastPosition).toBe(second.position);

      expect(await store.readStream(streamId)).toEqual(result.envelopes);
      expect(await store.readStream(streamId, { fromVersion: 2 })).toEqual([second]);
      expect(await store.streamVersion(streamId)).toBe(2);
      expect(await store.streamVersion(jobStream())).toBe(0);
    });

    it('should read events as of an instant', async () => {
      const streamId = jobStream();
      const meta = metadata(tenant());
      const t1 = new Date('2030-01-01T00:00:00.000Z');
      const t2 = new Date('2030-01-01T00:00:01.000Z');
      await store.append(streamId, [happened(1)], { expectedVersion: 0, metadata: meta, occurredAt: t1 });
      await store.append(streamId, [happened(2)], { expectedVersion: 1, metadata: meta, occurredAt: t2 });

      const versionsAsOf = async (asOf: Date) =>
        (await store.readStream(streamId, { asOf })).map((e) => e.streamVersion);
      expect(await versionsAsOf(new Date(t1.getTime() - 1))).toEqual([]);
      expect(await versionsAsOf(t1)).toEqual([1]);
      expect(await versionsAsOf(new Date(t2.getTime() - 1))).toEqual([1]);
      expect(await versionsAsOf(t2)).toEqual([1, 2]);
    });

    it('should read as of an instant only the events before the first one dated after it', async () => {
      // An appender with its own clock (the ai-planner) can date an event before the one it follows.
      const streamId = jobStream();
      const meta = metadata(tenant());
      const at = (iso: string, expectedVersion: number) => ({
        expectedVersion,
        metadata: meta,
        occurredAt: new Date(iso),
      });
      await store.append(streamId, [happened(1)], at('2030-01-01T00:00:00Z', 0));
      await store.append(streamId, [happened(2)], at('2030-01-01T00:00:10Z', 1));
      await store.append(streamId, [happened(3)], at('2030-01-01T00:00:05Z', 2));

      const versionsAsOf = async (iso: string) =>
        (await store.readStream(streamId, { asOf: new Date(iso) })).map((e) => e.streamVersion);
      expect(await versionsAsOf('2030-01-01T00:00:06Z')).toEqual([1]);
      expect(await versionsAsOf('2030-01-01T00:00:10Z')).toEqual([1, 2, 3]);
      expect(await versionsAsOf('2030-01-01T00:00:00Z')).toEqual([1]);
    });

    it('should round-trip the database clock through asOf at millisecond precision', async () => {
      const streamId = jobStream();
      const { envelopes } = await store.append(streamId, [happened(1)], {
        expectedVersion: 0,
        metadata: metadata(tenant()),
      });
      expect(await store.readStream(streamId, { asOf: new Date(envelopes[0].occurredAt) })).toHaveLength(1);
    });

    it('should upcast old schema versions on read', async () => {
      const streamId = jobStream();
      await store.append(streamId, [{ type: 'JobCreated', data: { jobId: 'j1', name: 'n' } }], {
        expectedVersion: 0,
        metadata: metadata(tenant()),
      });
      const upcasting = new PostgresEventStore(
        db.pool,
        new UpcasterRegistry([
          { type: 'JobCreated', fromVersion: 1, upcast: (data) => ({ ...(data as object), tags: [] }) },
        ]),
      );
      const original = CURRENT_SCHEMA_VERSION.JobCreated;
      CURRENT_SCHEMA_VERSION.JobCreated = 2;
      try {
        const [event] = await upcasting.readStream(streamId);
        expect(event).toMatchObject({ schemaVersion: 2, data: { jobId: 'j1', name: 'n', tags: [] } });
      } finally {
        CURRENT_SCHEMA_VERSION.JobCreated = original;
      }
    });
  });

  describe('When the expected version does not match', () => {
    it('should reject a stale expected version and write nothing', async () => {
      const streamId = jobStream();
      const meta = metadata(tenant());
      await store.append(streamId, [happened(1)], { expectedVersion: 0, metadata: meta });
      await store.append(streamId, [happened(2)], { expectedVersion: 1, metadata: meta });

      const attempt = store.append(streamId, [happened(3)], { expectedVersion: 1, metadata: meta });

      await expect(attempt).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(attempt).rejects.toMatchObject({
        code: 'EVENT_STORE.CONCURRENCY',
        streamId,
        expectedVersion: 1,
        actualVersion: 2,
      });
      expect((await store.readStream(streamId)).map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
    });

    it('should reject an expected version ahead of the stream instead of leaving a gap', async () => {
      const streamId = jobStream();
      const meta = metadata(tenant());
      await store.append(streamId, [happened(1)], { expectedVersion: 0, metadata: meta });

      await expect(
        store.append(streamId, [happened(2)], { expectedVersion: 3, metadata: meta }),
      ).rejects.toMatchObject({
        code: 'EVENT_STORE.CONCURRENCY',
        expectedVersion: 3,
        actualVersion: 1,
      });
      await expect(
        store.append(jobStream(), [happened(1)], { expectedVersion: 1, metadata: meta }),
      ).rejects.toMatchObject({ actualVersion: 0 });
      expect(await store.streamVersion(streamId)).toBe(1);
    });

    it('should let exactly one of many concurrent appends at the same version win', async () => {
      const streamId = jobStream();
      const meta = metadata(tenant());

      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          store.append(streamId, [happened(i)], { expectedVersion: 0, metadata: meta }),
        ),
      );

      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      expect(failures).toHaveLength(9);
      for (const failure of failures) expect(failure).toBeInstanceOf(ConcurrencyError);
      expect(await store.readStream(streamId)).toHaveLength(1);
    });

    it('should map a duplicate version from a racing commit to a ConcurrencyError', async () => {
      const streamId = jobStream();
      const meta = metadata(tenant());
      const winner = await inTransaction();
      const loser = await inTransaction();
      try {
        await store.append(streamId, [happened(1)], { expectedVersion: 0, metadata: meta, client: winner });
        const { rows } = await loser.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // Both passed the version check; the loser's INSERT now waits on the unique index.
        const losing = store.append(streamId, [happened(2)], {
          expectedVersion: 0,
          metadata: meta,
          client: loser,
        });
        losing.catch(() => undefined);
        await waitFor(async () => {
          const waiting = await db.pool.query(
            `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`,
            [rows[0].pid],
          );
          return waiting.rowCount === 1;
        }, 'the second append to block');
        await finish(winner, 'COMMIT');

        await expect(losing).rejects.toMatchObject({ streamId, expectedVersion: 0, actualVersion: 1 });
      } finally {
        await finish(loser, 'ROLLBACK');
      }
      expect((await store.readStream(streamId)).map((e) => e.data)).toEqual([{ n: 1 }]);
    });

    it("should retry 'any' appends that lose a race, without gaps", async () => {
      const streamId = jobStream();
      const meta = metadata(tenant());

      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          store.append(streamId, [happened(i)], { expectedVersion: 'any', metadata: meta }),
        ),
      );

      expect((await store.readStream(streamId)).map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5]);
    });
  });

  describe('When appending to several streams at once', () => {
    it('should write all streams or none', async () => {
      const [a, b] = [jobStream(), jobStream()];
      const meta = metadata(tenant());
      await store.append(b, [happened(1)], { expectedVersion: 0, metadata: meta });

      const failing = store.appendMany(
        [
          { streamId: a, events: [happened(1)], expectedVersion: 0 },
          { streamId: b, events: [happened(2)], expectedVersion: 0 },
        ],
        { metadata: meta },
      );
      await expect(failing).rejects.toMatchObject({ streamId: b, expectedVersion: 0, actualVersion: 1 });
      expect(await store.streamVersion(a)).toBe(0);

      const other = metadata(tenant());
      const results = await store.appendMany(
        [
          { streamId: a, events: [happened(1), happened(2)], expectedVersion: 0 },
          { streamId: b, events: [happened(2)], expectedVersion: 1, metadata: other },
        ],
        { metadata: meta },
      );
      expect(results.map((r) => r.nextExpectedVersion)).toEqual([2, 2]);
      expect(results[1].envelopes[0].tenantId).toBe(other.tenantId);
      expect(await store.readStream(a)).toEqual(results[0].envelopes);
      expect((await store.readStream(b))[1]).toEqual(results[1].envelopes[0]);
    });
  });

  describe('When reading the global log', () => {
    it('should page in order, filter, and continue after a given position', async () => {
      const tenantId = tenant();
      const meta = metadata(tenantId);
      const [job, run] = [jobStream(), `run-${randomUUID()}`];
      await store.append(job, [happened(1), happened(2)], { expectedVersion: 0, metadata: meta });
      await store.append(run, [{ type: 'Other', data: {} }], { expectedVersion: 0, metadata: meta });
      await store.append(job, [happened(3)], { expectedVersion: 2, metadata: meta });
      await store.append(jobStream(), [happened(9)], { expectedVersion: 0, metadata: metadata(tenant()) });

      await waitFor(
        async () => (await drain(store, tenantId)).events.length === 4,
        'the events to be visible',
      );
      const { events, checkpoint } = await drain(store, tenantId);
      expect(events.map((e) => [e.streamId, e.streamVersion])).toEqual([
        [job, 1],
        [job, 2],
        [run, 1],
        [job, 3],
      ]);
      expect(events.every((e) => e.tenantId === tenantId)).toBe(true);

      const runsOnly = await store.readAll(LOG_START, { tenantId, categories: ['run'] });
      expect(runsOnly.events.map((e) => e.streamId)).toEqual([run]);
      const byType = await store.readAll(LOG_START, { tenantId, types: ['Other'] });
      expect(byType.events.map((e) => e.type)).toEqual(['Other']);
      const byStream = await store.readAll(LOG_START, { streamId: job });
      expect(byStream.events.map((e) => e.streamVersion)).toEqual([1, 2, 3]);
      // A filtered reader moves past what it skipped instead of rescanning it next time.
      expect(BigInt(runsOnly.checkpoint.position)).toBeGreaterThanOrEqual(BigInt(checkpoint.position));

      const after = await store.checkpointOfPosition(events[1].position);
      expect(after).not.toBeNull();
      const rest = await drain(store, tenantId, after!);
      expect(rest.events.map((e) => e.id)).toEqual(events.slice(2).map((e) => e.id));
      expect(await store.checkpointOfPosition('999999999999999')).toBeNull();
      await expect(store.checkpointOfPosition('1e3')).rejects.toThrow(/Not a log position/);
    });

    it('should stop before the first event that occurred after occurredUpTo (unless dated ahead of datedAheadAfter) and resume there', async () => {
      const tenantId = tenant();
      const stream = jobStream();
      const at = (iso: string) => ({
        expectedVersion: 'any' as const,
        metadata: metadata(tenantId),
        occurredAt: new Date(iso),
      });
      await store.append(stream, [happened(1)], at('2026-01-01T00:00:00Z'));
      await store.append(stream, [happened(2)], at('2026-01-01T00:00:10Z'));
      await store.append(stream, [happened(3)], at('2026-01-01T00:00:05Z'));
      await waitFor(
        async () => (await drain(store, tenantId)).events.length === 3,
        'the events to be visible',
      );

      const first = await store.readAll(LOG_START, {
        streamId: stream,
        occurredUpTo: new Date('2026-01-01T00:00:06Z'),
      });
      expect(first.events.map((e) => e.streamVersion)).toEqual([1]);
      const again = await store.readAll(first.checkpoint, {
        streamId: stream,
        occurredUpTo: new Date('2026-01-01T00:00:06Z'),
      });
      expect(again.events).toEqual([]);
      expect(again.checkpoint).toEqual(first.checkpoint);
      const later = await store.readAll(first.checkpoint, {
        streamId: stream,
        occurredUpTo: new Date('2026-01-01T00:00:10Z'),
      });
      expect(later.events.map((e) => e.streamVersion)).toEqual([2, 3]);
      const pastDatedAhead = await store.readAll(first.checkpoint, {
        streamId: stream,
        occurredUpTo: new Date('2026-01-01T00:00:06Z'),
        datedAheadAfter: new Date('2026-01-01T00:00:08Z'),
      });
      expect(pastDatedAhead.events.map((e) => e.streamVersion)).toEqual([2, 3]);
    });

    it('should leave out what a consumer has handled and still move the checkpoint over it', async () => {
      const tenantId = tenant();
      const handled = jobStream();
      const partly = jobStream();
      await store.append(handled, [happened(1), happened(2)], {
        expectedVersion: 0,
        metadata: metadata(tenantId),
      });
      await store.append(partly, [happened(1), happened(2)], {
        expectedVersion: 0,
        metadata: metadata(tenantId),
      });
      await waitFor(
        async () => (await drain(store, tenantId)).events.length === 4,
        'the events to be visible',
      );
      await db.pool.query(
        `INSERT INTO consumer_stream_versions (consumer, stream_id, version) VALUES ('reader', $1, 2), ('reader', $2, 1)`,
        [handled, partly],
      );

      const page = await store.readAll(LOG_START, { tenantId, unhandledBy: 'reader' });

      expect(page.events.map((e) => [e.streamId, e.streamVersion])).toEqual([[partly, 2]]);
      expect(page.checkpoint).toEqual(await store.checkpointOfPosition(page.events[0].position));
      const rest = await store.readAll(page.checkpoint, { tenantId, unhandledBy: 'reader' });
      expect(rest.events).toEqual([]);
    });

    it('should move the checkpoint over handled events up to the first unhandled one that is too new', async () => {
      const tenantId = tenant();
      const handled = jobStream();
      const fresh = jobStream();
      const at = (iso: string) => ({
        expectedVersion: 0,
        metadata: metadata(tenantId),
        occurredAt: new Date(iso),
      });
      const [, last] = (await store.append(handled, [happened(1), happened(2)], at('2026-01-01T00:00:00Z')))
        .envelopes;
      await store.append(fresh, [happened(1)], at('2026-01-01T00:00:10Z'));
      await waitFor(
        async () => (await drain(store, tenantId)).events.length === 3,
        'the events to be visible',
      );
      await db.pool.query(
        `INSERT INTO consumer_stream_versions (consumer, stream_id, version) VALUES ('cutter', $1, 2)`,
        [handled],
      );

      const page = await store.readAll(LOG_START, {
        tenantId,
        unhandledBy: 'cutter',
        occurredUpTo: new Date('2026-01-01T00:00:05Z'),
      });

      expect(page.events).toEqual([]);
      expect(page.checkpoint).toEqual(await store.checkpointOfPosition(last.position));
    });

    it('should look at a bounded window of the log per filtered read and go on from its end', async () => {
      const tenantId = tenant();
      const skipped = jobStream();
      const wanted = `run-${randomUUID()}`;
      // 2 per page, so a window of 20: 25 events to skip, then the one asked for.
      await store.append(
        skipped,
        Array.from({ length: 25 }, (_, i) => happened(i + 1)),
        { expectedVersion: 0, metadata: metadata(tenantId) },
      );
      await store.append(wanted, [{ type: 'Other', data: {} }], {
        expectedVersion: 0,
        metadata: metadata(tenantId),
      });
      await waitFor(
        async () => (await drain(store, tenantId)).events.length === 26,
        'the events to be visible',
      );

      const first = await store.readAll(LOG_START, { tenantId, categories: ['run'], limit: 2 });
      expect(first.events).toEqual([]);
      expect(first.more).toBe(true);
      const { events: all } = await drain(store, tenantId);
      expect(first.checkpoint).toEqual(await store.checkpointOfPosition(all[19].position));

      const next = await store.readAll(first.checkpoint, { tenantId, categories: ['run'], limit: 2 });
      expect(next.events.map((e) => e.streamId)).toEqual([wanted]);
      expect(next.more).toBe(false);
    });

    it('should find a tenant\u2019s events of a type behind any number of others in one read', async () => {
      const tenantId = tenant();
      const busy = jobStream();
      // Far more than a window (10 times the limit) of other events before and between them.
      await store.append(
        busy,
        Array.from({ length: 60 }, (_, i) => happened(i + 1)),
        { expectedVersion: 0, metadata: metadata(tenantId) },
      );
      const rare = await store.append(`run-${randomUUID()}`, [{ type: 'Other', data: {} }], {
        expectedVersion: 0,
        metadata: metadata(tenantId),
      });
      await store.append(
        busy,
        Array.from({ length: 30 }, (_, i) => happened(i + 61)),
        { expectedVersion: 60, metadata: metadata(tenantId) },
      );
      const other = await store.append(`run-${randomUUID()}`, [{ type: 'Rare', data: {} }], {
        expectedVersion: 0,
        metadata: metadata(tenantId),
      });
      await store.append(`run-${randomUUID()}`, [{ type: 'Other', data: {} }], {
        expectedVersion: 0,
        metadata: metadata(tenant()),
      });
      await waitFor(
        async () => (await drain(store, tenantId)).events.length === 92,
        'the events to be visible',
      );

      const first = await store.readAll(LOG_START, { tenantId, types: ['Rare', 'Other', 'Other'], limit: 1 });
      expect(first.events.map((e) => e.id)).toEqual([rare.envelopes[0].id]);
      expect(first.more).toBe(true);
      const second = await store.readAll(first.checkpoint, { tenantId, types: ['Other', 'Rare'], limit: 1 });
      expect(second.events.map((e) => e.id)).toEqual([other.envelopes[0].id]);
      const end = await store.readAll(second.checkpoint, { tenantId, types: ['Other', 'Rare'], limit: 1 });
      expect(end).toMatchObject({ events: [], more: false });
      expect(BigInt(end.checkpoint.position)).toBeGreaterThanOrEqual(BigInt(other.lastPosition));
      const both = await store.readAll(LOG_START, { tenantId, types: ['Other', 'Rare'], limit: 5 });
      expect(both.events.map((e) => e.type)).toEqual(['Other', 'Rare']);
    });

    it('should read the types every run appends through windows of the log, and find them', async () => {
      const tenantId = tenant();
      await store.append(jobStream(), [happened(1), happened(2)], {
        expectedVersion: 0,
        metadata: metadata(tenantId),
      });
      const finished = await store.append(`run-${randomUUID()}`, [{ type: 'RunFinished', data: {} }], {
        expectedVersion: 0,
        metadata: metadata(tenantId),
      });
      await waitFor(
        async () => (await drain(store, tenantId)).events.length === 3,
        'the events to be visible',
      );

      const page = await store.readAll(LOG_START, { tenantId, types: ['RunFinished', 'Rare'], limit: 5 });
      expect(page.events.map((e) => e.id)).toEqual([finished.envelopes[0].id]);
      const { rows } = await db.pool.query<{ indexdef: string }>(
        `SELECT indexdef FROM pg_indexes WHERE indexname = 'events_tenant_type_transaction_position_idx'`,
      );
      for (const type of ['NextRunPlanned', 'RunStarted', 'RunFinished'])
        expect(rows[0].indexdef).toContain(type);
    });

    it('should read only the listed tenants\u2019 events, go to the head for none, and read at the snapshot of a given transaction', async () => {
      const [one, two, three] = [tenant(), tenant(), tenant()];
      const appended = [];
      for (const tenantId of [one, two, three, one]) {
        appended.push(
          (
            await store.append(jobStream(), [happened(1)], {
              expectedVersion: 0,
              metadata: metadata(tenantId),
            })
          ).envelopes[0],
        );
      }
      await waitFor(async () => (await drain(store, one)).events.length === 2, 'the events to be visible');
      const readListed = async (tenantIds: string[], client?: PoolClient) => {
        const events: EventEnvelope[] = [];
        let checkpoint = LOG_START;
        for (;;) {
          const page = await store.readAll(checkpoint, { tenantIds, limit: 2, client });
          events.push(...page.events);
          checkpoint = page.checkpoint;
          if (!page.more) return events;
        }
      };

      const listed = await readListed([one, three]);
      expect(listed.map((e) => e.id)).toEqual([appended[0].id, appended[2].id, appended[3].id]);

      const none = await store.readAll(LOG_START, { tenantIds: [] });
      expect(none).toEqual({ events: [], checkpoint: await store.headCheckpoint(), more: false });

      const reader = await db.pool.connect();
      try {
        await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        await reader.query('SELECT 1');
        const later = await store.append(jobStream(), [happened(1)], {
          expectedVersion: 0,
          metadata: metadata(two),
        });
        expect((await readListed([two], reader)).map((e) => e.id)).toEqual([appended[1].id]);
        await reader.query('COMMIT');
        await waitFor(async () => (await readListed([two])).length === 2, 'the later event');
        expect((await readListed([two])).map((e) => e.id)).toEqual([appended[1].id, later.envelopes[0].id]);
      } finally {
        reader.release();
      }
    });

    it('should not show an event before every older transaction has finished', async () => {
      const tenantId = tenant();
      const meta = metadata(tenantId);
      const late = await inTransaction();
      const early = await store.append(jobStream(), [happened(1)], {
        expectedVersion: 0,
        metadata: meta,
        client: late,
      });
      const quick = await store.append(jobStream(), [happened(2)], { expectedVersion: 0, metadata: meta });
      expect(BigInt(early.lastPosition)).toBeLessThan(BigInt(quick.lastPosition));

      // The naive reader: positions only. It sees the quick commit and moves past the late one.
      const naiveSeen: string[] = [];
      let naiveLast = '0';
      const naiveRead = async () => {
        const { rows } = await db.pool.query<{ position: string; event_id: string }>(
          `SELECT position::text AS position, event_id FROM events
            WHERE tenant_id = $1 AND position > $2::bigint ORDER BY position`,
          [tenantId, naiveLast],
        );
        for (const row of rows) naiveSeen.push(row.event_id);
        if (rows.length) naiveLast = rows[rows.length - 1].position;
      };

      await naiveRead();
      const before = await store.readAll(LOG_START, { tenantId });
      await finish(late, 'COMMIT');
      await naiveRead();

      expect(naiveSeen).toEqual([quick.envelopes[0].id]);
      expect(before.events).toEqual([]);
      await waitFor(async () => (await drain(store, tenantId)).events.length === 2, 'both events');
      expect((await drain(store, tenantId)).events.map((e) => e.id)).toEqual([
        early.envelopes[0].id,
        quick.envelopes[0].id,
      ]);
    });

    it('should let a tailing reader see every event exactly once while 20 appenders commit in random order', async () => {
      const tenantId = tenant();
      const meta = metadata(tenantId);
      const committed: string[] = [];
      let appending = true;

      const appender = async () => {
        const streamId = jobStream();
        let version = 0;
        for (let round = 0; round < 5; round++) {
          await delay(Math.random() * 10);
          const client = await inTransaction();
          const count = 1 + Math.floor(Math.random() * 3);
          const events = Array.from({ length: count }, (_, i) => happened(version + i + 1));
          const { envelopes } = await store.append(streamId, events, {
            expectedVersion: version,
            metadata: meta,
            client,
          });
          // Hold the transaction open so positions drawn early commit late, in random order.
          await client.query('SELECT pg_sleep($1)', [Math.random() * 0.03]);
          if (round === 2 && Math.random() < 0.3) {
            await finish(client, 'ROLLBACK');
            continue;
          }
          await finish(client, 'COMMIT');
          committed.push(...envelopes.map((e) => e.id));
          version += count;
        }
      };

      const seen: EventEnvelope[] = [];
      const reader = async () => {
        let checkpoint = LOG_START;
        let giveUpAt = Infinity;
        // A reader that skipped an event would wait for it forever: stop a while after the writers.
        while (appending || (seen.length < committed.length && Date.now() < giveUpAt)) {
          if (!appending && giveUpAt === Infinity) giveUpAt = Date.now() + 15_000;
          const page = await store.readAll(checkpoint, { tenantId, limit: 7 });
          seen.push(...page.events);
          checkpoint = page.checkpoint;
          if (!page.events.length) await delay(2);
        }
      };

      const reading = reader();
      await Promise.all(Array.from({ length: 20 }, appender));
      appending = false;
      await reading;

      const ids = seen.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual([...committed].sort());
      const versions = new Map<string, number>();
      for (const event of seen) {
        expect(event.streamVersion).toBe((versions.get(event.streamId) ?? 0) + 1);
        versions.set(event.streamId, event.streamVersion);
      }
    }, 60_000);
  });

  it('should agree with readAll on the head checkpoint', async () => {
    const tenantId = tenant();
    await store.append(jobStream(), [happened(1)], { expectedVersion: 0, metadata: metadata(tenantId) });
    await waitFor(async () => (await drain(store, tenantId)).events.length === 1, 'the event');
    const head = await store.headCheckpoint();
    expect(await store.readAll(head)).toEqual({ events: [], checkpoint: head, more: false });
    expect((await store.readAll(LOG_START, { limit: 100_000 })).checkpoint).toEqual(head);
  });
});

describe('PostgresEventStore positions beyond 2^53', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query('ALTER SEQUENCE events_position_seq RESTART WITH 9007199254740993');
  });
  afterAll(() => db.drop());

  it('should keep positions exact as strings', async () => {
    const store = new PostgresEventStore(db.pool);
    const streamId = jobStream();
    const tenantId = tenant();
    const { envelopes } = await store.append(streamId, [happened(1), happened(2)], {
      expectedVersion: 0,
      metadata: metadata(tenantId),
    });

    expect(envelopes.map((e) => e.position)).toEqual(['9007199254740993', '9007199254740994']);
    expect((await store.readStream(streamId)).map((e) => e.position)).toEqual([
      '9007199254740993',
      '9007199254740994',
    ]);
    const after = await store.checkpointOfPosition('9007199254740993');
    await waitFor(async () => (await drain(store, tenantId, after!)).events.length === 1, 'the second event');
    expect((await drain(store, tenantId, after!)).events[0].position).toBe('9007199254740994');
  });
});

describe('PostgresEventStore head of the log', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query('ALTER SEQUENCE events_position_seq RESTART WITH 999');
  });
  afterAll(() => db.drop());

  // The columns are read as text: ordered by those, 999 came after 1000.
  it('should order by position, not by its decimal text, when it gains a digit', async () => {
    const store = new PostgresEventStore(db.pool);
    const { envelopes } = await store.append(jobStream(), [happened(1), happened(2)], {
      expectedVersion: 0,
      metadata: metadata(tenant()),
    });
    expect(envelopes.map((e) => e.position)).toEqual(['999', '1000']);
    await waitFor(async () => (await store.headCheckpoint()).position !== LOG_START.position, 'the events');
    expect(await store.headCheckpoint()).toEqual(await store.checkpointOfPosition('1000'));
  });
});
