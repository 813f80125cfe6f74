import { Event, EventEnvelope, streamIds } from '@cronicorn/events';
import { LOG_START } from '@cronicorn/event-store';
import { withTransaction } from '@cronicorn/platform';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { at, History, newId } from '../test/fixtures';
import { projectLogPage } from './read-models';

jest.setTimeout(60_000);

describe('projectLogPage', () => {
  let db: TestDatabase;
  let history: History;
  let reads: string[];

  beforeEach(async () => {
    db = await createTestDatabase();
    history = new History(db.pool);
    reads = [];
  });
  afterEach(() => db.drop());

  /** Applies `events` as a page of the log, counting the stream reads it makes. */
  function applyPage(events: readonly EventEnvelope[]): Promise<EventEnvelope[]> {
    const store = {
      readStream: (streamId: string, options?: { fromVersion?: number }) => {
        reads.push(streamId);
        return history.store.readStream(streamId, options);
      },
    };
    return withTransaction(db.pool, (client) => projectLogPage(events, client, store));
  }

  const keyRevoked = (keyId: string): Event => ({
    type: 'ApiKeyRevoked',
    data: { keyId, revokedAt: at(1) },
  });

  describe('When a stream holds only events that no projection handles', () => {
    it('should not read the stream again for each page', async () => {
      const tenantId = newId('tenant');
      const streamId = streamIds.tenant(tenantId);
      await history.append(tenantId, streamId, {
        type: 'TenantCreated',
        data: { tenantId, name: 'acme', createdAt: at(0) },
      });
      for (let i = 0; i < 5; i += 1) await history.append(tenantId, streamId, keyRevoked(`key-${i}`));

      const { events } = await history.store.readAll(LOG_START);
      for (const event of events) expect(await applyPage([event])).toEqual([]);
      expect(reads).toEqual([]);
    });
  });

  describe('When an event no projection handles sits between two that are handled', () => {
    it('should apply the handled ones in version order without reading the stream', async () => {
      const tenant = history.tenant();
      const endpointId = await tenant.endpoint(await tenant.job());
      const streamId = streamIds.endpoint(endpointId);
      const runId = newId('run');
      const appended = await history.append(
        tenant.tenantId,
        streamId,
        {
          type: 'RunRequested',
          data: { endpointId, runId, source: 'manual', trigger: null, retryOf: null, requestedAt: at(2) },
        },
        {
          type: 'EndpointPaused',
          data: { endpointId, until: null, reason: 'held', by: 'user', pausedAt: at(3) },
        },
      );

      const applied = await applyPage(appended);
      expect(applied.map((e) => e.streamVersion)).toEqual([3]);
      expect(reads).toEqual([]);
      const { rows } = await db.pool.query('SELECT status FROM rm_endpoints WHERE endpoint_id = $1', [
        endpointId,
      ]);
      expect(rows).toEqual([{ status: 'paused' }]);
    });
  });

  describe('When an event no projection handles comes in the log before the version ahead of it', () => {
    it('should still apply that version', async () => {
      const tenant = history.tenant();
      const endpointId = await tenant.endpoint(await tenant.job());
      const streamId = streamIds.endpoint(endpointId);
      const [paused, requested] = await history.append(
        tenant.tenantId,
        streamId,
        {
          type: 'EndpointPaused',
          data: { endpointId, until: null, reason: 'held', by: 'user', pausedAt: at(3) },
        },
        {
          type: 'RunRequested',
          data: {
            endpointId,
            runId: newId('run'),
            source: 'manual',
            trigger: null,
            retryOf: null,
            requestedAt: at(4),
          },
        },
      );

      // Version 3 (not handled) first, as when its writer took its transaction id early.
      const applied = await applyPage([requested, paused]);
      expect(applied.map((e) => e.streamVersion)).toEqual([2]);
    });
  });
});
