import { randomUUID } from 'node:crypto';
import { request } from '../../test/http';
import { startApi, TestApi } from '../../test/harness';

interface SubscriptionView {
  id: string;
  url: string;
  eventTypes: string[];
  createdAt: string;
  consecutiveFailures: number;
  deliveriesPausedUntil: string | null;
}

describe('Webhook subscriptions API', () => {
  let api: TestApi;
  let a: { tenantId: string; apiKey: string };
  let b: { tenantId: string; apiKey: string };
  const call = <T = Record<string, unknown>>(method: string, path: string, apiKey?: string, body?: unknown) =>
    request<T>(api.url, method, path, { apiKey, body });

  beforeAll(async () => {
    api = await startApi();
    a = await api.createTenant('Hooks A');
    b = await api.createTenant('Hooks B');
  });

  afterAll(async () => {
    await api?.close();
  });

  describe('When a subscription is created', () => {
    it('should answer 201 with a generated secret shown once, and list it without the secret', async () => {
      const res = await call('POST', '/v1/subscriptions', a.apiKey, {
        url: 'https://hooks.example.com/a',
        eventTypes: ['RunFinished', 'RunStarted'],
      });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: res.body.subscriptionId,
        subscriptionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        position: expect.stringMatching(/^\d+$/),
        url: 'https://hooks.example.com/a',
        eventTypes: ['RunFinished', 'RunStarted'],
        secret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/),
        createdAt: expect.any(String),
      });
      expect(res.headers.get('x-position')).toBe(res.body.position);
      const secret = res.body.secret as string;

      const list = await call<{ subscriptions: SubscriptionView[] }>('GET', '/v1/subscriptions', a.apiKey);
      expect(list.status).toBe(200);
      expect(list.body.subscriptions).toContainEqual({
        id: res.body.subscriptionId,
        url: 'https://hooks.example.com/a',
        eventTypes: ['RunFinished', 'RunStarted'],
        createdAt: res.body.createdAt,
        consecutiveFailures: 0,
        deliveriesPausedUntil: null,
      });
      expect(JSON.stringify(list.body)).not.toContain(secret);

      // The event carries the secret encrypted only.
      const events = await request<{ events: Array<{ type: string; data: { secret: string } }> }>(
        api.url,
        'GET',
        '/v1/events?type=WebhookSubscriptionCreated',
        { apiKey: a.apiKey, headers: { 'x-min-position': res.body.position as string } },
      );
      const recorded = events.body.events.map((e) => e.data.secret);
      expect(recorded.length).toBeGreaterThan(0);
      for (const token of recorded) expect(token).toMatch(/^enc:v1:/);
      expect(JSON.stringify(events.body)).not.toContain(secret);
    });

    it('should keep a secret given by the caller and accept "*"', async () => {
      const secret = 'my-own-signing-secret-0123456789';
      const res = await call('POST', '/v1/subscriptions', a.apiKey, {
        url: 'http://hooks.example.com/all',
        eventTypes: ['*'],
        secret,
      });
      expect(res.status).toBe(201);
      expect(res.body.secret).toBe(secret);
    });

    it('should show an empty delivery log', async () => {
      const created = await call('POST', '/v1/subscriptions', a.apiKey, {
        url: 'https://hooks.example.com/empty',
        eventTypes: ['JobCreated'],
      });
      const log = await call('GET', `/v1/subscriptions/${created.body.id as string}/deliveries`, a.apiKey);
      expect(log.status).toBe(200);
      expect(log.body).toEqual({ deliveries: [] });
    });
  });

  describe('When the input is bad', () => {
    it.each([
      ['a ftp URL', { url: 'ftp://example.com/x', eventTypes: ['RunFinished'] }, 'url'],
      ['an unknown event type', { url: 'https://example.com/', eventTypes: ['RunExploded'] }, 'eventTypes'],
      ['no event types', { url: 'https://example.com/', eventTypes: [] }, 'eventTypes'],
      ['a short secret', { url: 'https://example.com/', eventTypes: ['*'], secret: 'short' }, 'secret'],
      [
        'a secret holding a NUL (no receiver signs with what it cannot read)',
        { url: 'https://example.com/', eventTypes: ['*'], secret: 'sixteen-chars-ok\u0000' },
        'secret',
      ],
      [
        'a secret holding an unpaired surrogate (not UTF-8)',
        { url: 'https://example.com/', eventTypes: ['*'], secret: 'sixteen-chars-ok\ud800' },
        'secret',
      ],
      ['an unknown field', { url: 'https://example.com/', eventTypes: ['*'], retries: 3 }, 'retries'],
    ])('should answer 400 naming the field for %s', async (_name, body, field) => {
      const res = await call<{ error: string; fields: Record<string, string> }>(
        'POST',
        '/v1/subscriptions',
        a.apiKey,
        body,
      );
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.fields)).toContain(field);
    });

    it('should answer 400 naming url for credentials in the URL, saying how receivers authenticate', async () => {
      const res = await call<{ error: string; fields: Record<string, string> }>(
        'POST',
        '/v1/subscriptions',
        a.apiKey,
        { url: 'https://u:p@hooks.example.com/in', eventTypes: ['*'] },
      );
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.fields)).toEqual(['url']);
      expect(res.body.fields.url).toMatch(/user name or password.*signature/);
      const { rows } = await api.db.pool.query<{ data: string }>(
        'SELECT data::text AS data FROM events WHERE tenant_id = $1',
        [a.tenantId],
      );
      expect(rows.some((r) => r.data.includes('u:p@'))).toBe(false);
      const stored = await api.db.pool.query('SELECT 1 FROM webhook_subscriptions WHERE url LIKE $1', [
        '%u:p@%',
      ]);
      expect(stored.rows).toHaveLength(0);
    });

    it('should answer 401 without a key', async () => {
      expect((await call('GET', '/v1/subscriptions')).status).toBe(401);
    });
  });

  describe('When another tenant asks', () => {
    it('should answer 404 for its subscription, never 403, and not list it', async () => {
      const created = await call('POST', '/v1/subscriptions', a.apiKey, {
        url: 'https://hooks.example.com/private',
        eventTypes: ['RunFinished'],
      });
      const id = created.body.id as string;
      expect((await call('GET', `/v1/subscriptions/${id}/deliveries`, b.apiKey)).status).toBe(404);
      const deleted = await call('DELETE', `/v1/subscriptions/${id}`, b.apiKey);
      expect(deleted.status).toBe(404);
      expect(deleted.body.error).toBe('SUBSCRIPTION.NOT_FOUND');
      const list = await call<{ subscriptions: SubscriptionView[] }>('GET', '/v1/subscriptions', b.apiKey);
      expect(list.body.subscriptions.map((s) => s.id)).not.toContain(id);
      expect((await call('GET', `/v1/subscriptions/${id}/deliveries`, a.apiKey)).status).toBe(200);
    });

    it('should answer 404 for an unknown or malformed id', async () => {
      expect((await call('DELETE', `/v1/subscriptions/${randomUUID()}`, a.apiKey)).status).toBe(404);
      expect((await call('GET', '/v1/subscriptions/not-an-id/deliveries', a.apiKey)).status).toBe(404);
    });
  });

  describe('When a subscription is deleted', () => {
    it('should answer 202, drop it from the list, and answer 202 with no position the second time', async () => {
      const created = await call('POST', '/v1/subscriptions', a.apiKey, {
        url: 'https://hooks.example.com/doomed',
        eventTypes: ['RunFinished'],
      });
      const id = created.body.id as string;
      const deleted = await call('DELETE', `/v1/subscriptions/${id}`, a.apiKey);
      expect(deleted.status).toBe(202);
      expect(deleted.body).toEqual({ id, subscriptionId: id, position: expect.stringMatching(/^\d+$/) });
      const list = await call<{ subscriptions: SubscriptionView[] }>('GET', '/v1/subscriptions', a.apiKey);
      expect(list.body.subscriptions.map((s) => s.id)).not.toContain(id);
      const again = await call('DELETE', `/v1/subscriptions/${id}`, a.apiKey);
      expect(again.status).toBe(202);
      expect(again.body.position).toBeNull();
      const { rows } = await api.db.pool.query<{ deleted_at: Date | null }>(
        'SELECT deleted_at FROM webhook_subscriptions WHERE subscription_id = $1',
        [id],
      );
      expect(rows[0].deleted_at).not.toBeNull();
    });
  });

  describe('When a subscription\u2019s receiver keeps failing', () => {
    it('should show the failures in a row and until when its deliveries are paused', async () => {
      const created = await call('POST', '/v1/subscriptions', a.apiKey, {
        url: 'https://hooks.example.com/down',
        eventTypes: ['*'],
      });
      const id = created.body.id as string;
      const { rows } = await api.db.pool.query<{ until: Date }>(
        `UPDATE webhook_subscriptions SET consecutive_failures = 5, suspended_until = now() + interval '30 seconds'
          WHERE subscription_id = $1 RETURNING suspended_until AS until`,
        [id],
      );
      const list = await call<{ subscriptions: SubscriptionView[] }>('GET', '/v1/subscriptions', a.apiKey);
      expect(list.body.subscriptions.find((s) => s.id === id)).toMatchObject({
        consecutiveFailures: 5,
        deliveriesPausedUntil: rows[0].until.toISOString(),
      });
    });
  });

  describe('When a subscription with deliveries waiting is deleted', () => {
    it('should show them as cancelled in its delivery log, one never tried and one between retries', async () => {
      const created = await call('POST', '/v1/subscriptions', a.apiKey, {
        url: 'https://hooks.example.com/cancelled',
        eventTypes: ['*'],
      });
      const id = created.body.id as string;
      const waiting = async (eventType: string, attempts: number) => {
        const eventId = randomUUID();
        await api.db.pool.query(
          `INSERT INTO webhook_deliveries
             (subscription_id, tenant_id, event_id, event_type, event_position, body, attempts, next_attempt_at)
           VALUES ($1, $2, $3, $4, 1, '{}', $5, now() + interval '1 hour')`,
          [id, a.tenantId, eventId, eventType, attempts],
        );
        return eventId;
      };
      const neverTried = await waiting('JobCreated', 0);
      const betweenRetries = await waiting('JobUpdated', 1);
      await api.db.pool.query(
        `INSERT INTO webhook_delivery_attempts
           (delivery_id, attempt, subscription_id, event_id, event_type, outcome, duration_ms, attempted_at, next_attempt_at)
         SELECT delivery_id, 1, subscription_id, event_id, event_type, 'retry', 5, now() - interval '1 minute',
                now() + interval '1 hour'
           FROM webhook_deliveries WHERE event_id = $1`,
        [betweenRetries],
      );

      expect((await call('DELETE', `/v1/subscriptions/${id}`, a.apiKey)).status).toBe(202);

      const log = await call<{
        deliveries: { eventId: string; attempt: number; outcome: string; nextAttemptAt: string | null }[];
      }>('GET', `/v1/subscriptions/${id}/deliveries`, a.apiKey);
      const latest = (eventId: string) => log.body.deliveries.find((d) => d.eventId === eventId);
      expect(latest(neverTried)).toMatchObject({ attempt: 1, outcome: 'cancelled', nextAttemptAt: null });
      expect(latest(betweenRetries)).toMatchObject({ attempt: 2, outcome: 'cancelled', nextAttemptAt: null });
    });
  });

  describe('When failed deliveries are redelivered', () => {
    const failedDelivery = async (subscriptionId: string, tenantId: string, createdAt: string) => {
      const { rows } = await api.db.pool.query<{ delivery_id: string }>(
        `INSERT INTO webhook_deliveries
           (subscription_id, tenant_id, event_id, event_type, event_position, body, state, attempts,
            created_at, finished_at, last_status_code)
         VALUES ($1, $2, $3, 'RunFinished', 1, '{}', 'failed', 9, $4, now(), 503)
         RETURNING delivery_id`,
        [subscriptionId, tenantId, randomUUID(), createdAt],
      );
      return rows[0].delivery_id;
    };
    const deliveryRow = async (deliveryId: string) =>
      (
        await api.db.pool.query<{ state: string; attempts_before_redelivery: number; due: boolean }>(
          `SELECT state, attempts_before_redelivery, next_attempt_at <= now() AS due
             FROM webhook_deliveries WHERE delivery_id = $1`,
          [deliveryId],
        )
      ).rows[0];

    it('should put the failed ones since the instant back to pending, close the circuit, and record the request', async () => {
      const created = await call('POST', '/v1/subscriptions', a.apiKey, {
        url: 'https://hooks.example.com/back-again',
        eventTypes: ['RunFinished'],
      });
      const id = created.body.id as string;
      const old = await failedDelivery(id, a.tenantId, '2020-01-01T00:00:00Z');
      const recent = await failedDelivery(id, a.tenantId, new Date().toISOString());
      await api.db.pool.query(
        `UPDATE webhook_subscriptions SET consecutive_failures = 7, suspended_until = now() + interval '5 minutes'
          WHERE subscription_id = $1`,
        [id],
      );

      const answer = await call('POST', `/v1/subscriptions/${id}/redeliver`, a.apiKey, {
        since: '2021-01-01T01:00:00+01:00',
      });

      expect(answer.status).toBe(202);
      expect(answer.body).toMatchObject({ id, subscriptionId: id, redelivered: 1 });
      expect(await deliveryRow(recent)).toEqual({
        state: 'pending',
        attempts_before_redelivery: 9,
        due: true,
      });
      expect((await deliveryRow(old)).state).toBe('failed');
      const log = await call<{
        deliveries: { deliveryId: string; outcome: string; nextAttemptAt: string | null }[];
      }>('GET', `/v1/subscriptions/${id}/deliveries`, a.apiKey);
      expect(log.body.deliveries.find((d) => d.deliveryId === recent)).toMatchObject({
        outcome: 'pending',
        nextAttemptAt: expect.any(String),
      });
      const list = await call<{ subscriptions: SubscriptionView[] }>('GET', '/v1/subscriptions', a.apiKey);
      expect(list.body.subscriptions.find((s) => s.id === id)).toMatchObject({
        consecutiveFailures: 0,
        deliveriesPausedUntil: null,
      });
      const events = await call<{ events: { type: string; data: Record<string, unknown> }[] }>(
        'GET',
        `/v1/events?type=WebhookRedeliveryRequested&after=${BigInt(answer.body.position as string) - 1n}`,
        a.apiKey,
      );
      expect(events.body.events).toEqual([
        expect.objectContaining({
          type: 'WebhookRedeliveryRequested',
          data: expect.objectContaining({ subscriptionId: id, since: '2021-01-01T00:00:00.000Z' }),
        }),
      ]);

      const everything = await call('POST', `/v1/subscriptions/${id}/redeliver`, a.apiKey, {});
      expect(everything.body).toMatchObject({ redelivered: 1 });
      expect((await deliveryRow(old)).state).toBe('pending');
    });

    it('should make the deliveries waiting for a retry due now, leaving one in a call alone', async () => {
      const created = await call('POST', '/v1/subscriptions', a.apiKey, {
        url: 'https://hooks.example.com/retrying',
        eventTypes: ['RunFinished'],
      });
      const id = created.body.id as string;
      const waiting = async (leaseOwner: string | null) => {
        const { rows } = await api.db.pool.query<{ delivery_id: string }>(
          `INSERT INTO webhook_deliveries
             (subscription_id, tenant_id, event_id, event_type, event_position, body, attempts,
              next_attempt_at, lease_owner, lease_until)
           VALUES ($1, $2, $3, 'RunFinished', 1, '{}', 3, now() + interval '2 hours', $4,
                   CASE WHEN $4::text IS NULL THEN NULL ELSE now() + interval '2 hours' END)
           RETURNING delivery_id`,
          [id, a.tenantId, randomUUID(), leaseOwner],
        );
        return rows[0].delivery_id;
      };
      const betweenAttempts = await waiting(null);
      const inACall = await waiting('dispatcher-1');

      expect((await call('POST', `/v1/subscriptions/${id}/redeliver`, a.apiKey, {})).status).toBe(202);

      expect(await deliveryRow(betweenAttempts)).toEqual({
        state: 'pending',
        attempts_before_redelivery: 0,
        due: true,
      });
      expect((await deliveryRow(inACall)).due).toBe(false);
    });

    it('should refuse a bad instant by name, another tenant\u2019s subscription, and a deleted one', async () => {
      const created = await call('POST', '/v1/subscriptions', a.apiKey, {
        url: 'https://hooks.example.com/refusals',
        eventTypes: ['RunFinished'],
      });
      const id = created.body.id as string;
      const failed = await failedDelivery(id, a.tenantId, new Date().toISOString());

      const bad = await call('POST', `/v1/subscriptions/${id}/redeliver`, a.apiKey, { since: 'yesterday' });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain('since');
      expect((await call('POST', `/v1/subscriptions/${id}/redeliver`, b.apiKey, {})).status).toBe(404);
      expect((await deliveryRow(failed)).state).toBe('failed');

      await call('DELETE', `/v1/subscriptions/${id}`, a.apiKey);
      const deleted = await call('POST', `/v1/subscriptions/${id}/redeliver`, a.apiKey, {});
      expect(deleted.status).toBe(409);
      expect(deleted.body).toMatchObject({ error: 'SUBSCRIPTION.DELETED' });
      expect((await deliveryRow(failed)).state).toBe('failed');
    });
  });

  describe('Swagger', () => {
    it('should document the subscription routes and the event stream', async () => {
      const res = await fetch(`${api.url}/docs-json`);
      const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
      expect(Object.keys(doc.paths['/v1/subscriptions'])).toEqual(expect.arrayContaining(['post', 'get']));
      expect(doc.paths['/v1/subscriptions/{id}']).toHaveProperty('delete');
      expect(doc.paths['/v1/subscriptions/{id}/deliveries']).toHaveProperty('get');
      expect(doc.paths['/v1/subscriptions/{id}/redeliver']).toHaveProperty('post');
      expect(doc.paths['/v1/events/stream']).toHaveProperty('get');
    });
  });
});
