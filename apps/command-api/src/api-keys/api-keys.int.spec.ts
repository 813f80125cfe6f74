import { CommandBus } from '@nestjs/cqrs';
import { request } from '../../test/http';
import { startApi, TestApi } from '../../test/harness';
import { tenantContext } from '../auth/auth-context';
import { RevokeApiKeyCommand } from './revoke-api-key/revoke-api-key.command';

interface KeyView {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

describe('API keys', () => {
  let api: TestApi;
  let tenant: { tenantId: string; apiKey: string };
  const call = (method: string, path: string, apiKey?: string, body?: unknown) =>
    request(api.url, method, path, { apiKey, body });

  beforeAll(async () => {
    api = await startApi();
    tenant = await api.createTenant('Keys Inc');
  });

  afterAll(async () => {
    await api?.close();
  });

  const tenantEvents = async (tenantId: string) =>
    (
      await api.db.pool.query<{ type: string }>(
        'SELECT type FROM events WHERE stream_id = $1 ORDER BY stream_version',
        [`tenant-${tenantId}`],
      )
    ).rows.map((r) => r.type);

  describe('When a key is issued', () => {
    it('should answer 201 with the key once, and list it without key or hash', async () => {
      const issued = await call('POST', '/v1/api-keys', tenant.apiKey, { name: 'ci' });
      expect(issued.status).toBe(201);
      expect(issued.body).toEqual({
        id: issued.body.keyId,
        keyId: expect.any(String),
        apiKey: expect.stringMatching(/^ck_live_/),
        prefix: (issued.body.apiKey as string).slice(0, 14),
        position: expect.stringMatching(/^\d+$/),
      });

      const list = await request<{ apiKeys: KeyView[] }>(api.url, 'GET', '/v1/api-keys', {
        apiKey: tenant.apiKey,
      });
      expect(list.status).toBe(200);
      expect(list.body.apiKeys.map((k) => k.name)).toEqual(['default', 'ci']);
      const ci = list.body.apiKeys[1];
      expect(ci).toEqual({
        id: issued.body.keyId,
        name: 'ci',
        prefix: issued.body.prefix,
        createdAt: expect.any(String),
        revokedAt: null,
      });
      const { rows } = await api.db.pool.query<{ key_hash: string }>('SELECT key_hash FROM api_keys');
      for (const { key_hash } of rows) expect(JSON.stringify(list.body)).not.toContain(key_hash);
      expect(JSON.stringify(list.body)).not.toContain(issued.body.apiKey as string);
    });

    it('should let the new key authenticate at once', async () => {
      const issued = await call('POST', '/v1/api-keys', tenant.apiKey, { name: 'fresh' });
      const res = await call('GET', '/v1/api-keys', issued.body.apiKey as string);
      expect(res.status).toBe(200);
    });
  });

  describe('When a key is revoked', () => {
    it('should answer 202 and refuse the key at once', async () => {
      const issued = await call('POST', '/v1/api-keys', tenant.apiKey, { name: 'doomed' });
      const key = issued.body.apiKey as string;
      expect((await call('GET', '/v1/api-keys', key)).status).toBe(200);

      const revoked = await call('DELETE', `/v1/api-keys/${issued.body.keyId as string}`, tenant.apiKey);
      expect(revoked.status).toBe(202);
      expect(revoked.body).toEqual({
        id: issued.body.keyId,
        keyId: issued.body.keyId,
        position: expect.stringMatching(/^\d+$/),
      });
      expect((await call('GET', '/v1/api-keys', key)).status).toBe(401);

      const list = await request<{ apiKeys: KeyView[] }>(api.url, 'GET', '/v1/api-keys', {
        apiKey: tenant.apiKey,
      });
      expect(list.body.apiKeys.find((k) => k.id === issued.body.keyId)?.revokedAt).toEqual(
        expect.any(String),
      );
    });

    it('should allow revoking the key that makes the call while another stays active', async () => {
      const own = await api.createTenant('Self revoker');
      const keys = await request<{ apiKeys: KeyView[] }>(api.url, 'GET', '/v1/api-keys', {
        apiKey: own.apiKey,
      });
      const spare = await call('POST', '/v1/api-keys', own.apiKey, { name: 'spare' });
      const res = await call('DELETE', `/v1/api-keys/${keys.body.apiKeys[0].id}`, own.apiKey);
      expect(res.status).toBe(202);
      expect((await call('GET', '/v1/api-keys', own.apiKey)).status).toBe(401);
      expect((await call('GET', '/v1/api-keys', spare.body.apiKey as string)).status).toBe(200);
    });

    it('should refuse to revoke the last active key with 409, write nothing, and keep it working', async () => {
      const own = await api.createTenant('Last key');
      const keys = await request<{ apiKeys: KeyView[] }>(api.url, 'GET', '/v1/api-keys', {
        apiKey: own.apiKey,
      });
      const before = await tenantEvents(own.tenantId);

      const res = await call('DELETE', `/v1/api-keys/${keys.body.apiKeys[0].id}`, own.apiKey);

      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({
        error: 'API_KEY.LAST_KEY',
        message: expect.stringMatching(/issue a new key first/),
      });
      expect(await tenantEvents(own.tenantId)).toEqual(before);
      const { rows } = await api.db.pool.query(
        'SELECT 1 FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL',
        [own.tenantId],
      );
      expect(rows).toHaveLength(1);
      expect((await call('GET', '/v1/api-keys', own.apiKey)).status).toBe(200);
    });

    it('should refuse the last active key once the others are revoked', async () => {
      const own = await api.createTenant('Down to one');
      const spare = await call('POST', '/v1/api-keys', own.apiKey, { name: 'spare' });
      expect((await call('DELETE', `/v1/api-keys/${spare.body.keyId as string}`, own.apiKey)).status).toBe(
        202,
      );
      const keys = await request<{ apiKeys: KeyView[] }>(api.url, 'GET', '/v1/api-keys', {
        apiKey: own.apiKey,
      });
      const first = keys.body.apiKeys.find((k) => k.name === 'default')!;
      const res = await call('DELETE', `/v1/api-keys/${first.id}`, own.apiKey);
      expect(res).toMatchObject({ status: 409, body: { error: 'API_KEY.LAST_KEY' } });
      expect((await call('GET', '/v1/api-keys', own.apiKey)).status).toBe(200);
    });

    it('should let only one of two racing revokes of the last two keys through', async () => {
      // Straight to the command bus: over HTTP the later request may fail authentication
      // instead (its key was just revoked), which would not exercise the decider's check.
      const bus = api.app.get(CommandBus);
      for (let round = 0; round < 5; round++) {
        const own = await api.createTenant(`Racing revokes ${round}`);
        const spare = await call('POST', '/v1/api-keys', own.apiKey, { name: 'spare' });
        const keys = await request<{ apiKeys: KeyView[] }>(api.url, 'GET', '/v1/api-keys', {
          apiKey: own.apiKey,
        });
        const ids = keys.body.apiKeys.map((k) => k.id);
        expect(ids).toHaveLength(2);
        expect(ids).toContain(spare.body.keyId);

        // Each revoke is made with the other key.
        const results = await Promise.allSettled(
          ids.map((id, i) =>
            bus.execute(
              new RevokeApiKeyCommand(id, tenantContext(own.tenantId, ids[1 - i]), `race-${round}-${i}`),
            ),
          ),
        );

        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(refused?.reason).toMatchObject({ code: 'API_KEY.LAST_KEY', kind: 'conflict' });
        const types = await tenantEvents(own.tenantId);
        expect(types.filter((type) => type === 'ApiKeyRevoked')).toHaveLength(1);
        const { rows } = await api.db.pool.query(
          'SELECT 1 FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL',
          [own.tenantId],
        );
        expect(rows).toHaveLength(1);
      }
    });

    it('should answer 202 with a null position when revoking again', async () => {
      const issued = await call('POST', '/v1/api-keys', tenant.apiKey, { name: 'twice' });
      await call('DELETE', `/v1/api-keys/${issued.body.keyId as string}`, tenant.apiKey);
      const again = await call('DELETE', `/v1/api-keys/${issued.body.keyId as string}`, tenant.apiKey);
      expect(again.status).toBe(202);
      expect(again.body.position).toBeNull();
    });

    it('should answer 404 for another tenant\u2019s key, and leave it working', async () => {
      const other = await api.createTenant('Other');
      const otherKeys = await request<{ apiKeys: KeyView[] }>(api.url, 'GET', '/v1/api-keys', {
        apiKey: other.apiKey,
      });
      const res = await call('DELETE', `/v1/api-keys/${otherKeys.body.apiKeys[0].id}`, tenant.apiKey);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ error: 'API_KEY.NOT_FOUND' });
      expect((await call('GET', '/v1/api-keys', other.apiKey)).status).toBe(200);
    });

    it('should never list another tenant\u2019s keys', async () => {
      const other = await api.createTenant('Private');
      const list = await request<{ apiKeys: KeyView[] }>(api.url, 'GET', '/v1/api-keys', {
        apiKey: other.apiKey,
      });
      expect(list.body.apiKeys.map((k) => k.name)).toEqual(['default']);
    });
  });

  describe('When keys are issued concurrently on one tenant stream', () => {
    const issuedCount = async (tenantId: string) =>
      (
        await api.db.pool.query<{ versions: number[] }>(
          `SELECT array_agg(stream_version ORDER BY stream_version) AS versions FROM events WHERE stream_id = $1`,
          [`tenant-${tenantId}`],
        )
      ).rows[0].versions;

    it('should decide again after a conflict, so three racing writers all succeed', async () => {
      const own = await api.createTenant('Racing');
      const answers = await Promise.all(
        [1, 2, 3].map((i) => call('POST', '/v1/api-keys', own.apiKey, { name: `racer-${i}` })),
      );
      expect(answers.map((a) => a.status)).toEqual([201, 201, 201]);
      expect(await issuedCount(own.tenantId)).toEqual([1, 2, 3, 4, 5]);
    });

    it('should answer 201 or 409, never 500, and write exactly the accepted keys under heavy contention', async () => {
      const own = await api.createTenant('Crowded');
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          call('POST', '/v1/api-keys', own.apiKey, { name: `crowd-${i}` }),
        ),
      );
      const accepted = answers.filter((a) => a.status === 201);
      for (const a of answers.filter((x) => x.status !== 201)) {
        expect(a).toMatchObject({ status: 409, body: { error: 'CONCURRENCY_CONFLICT' } });
      }
      const versions = await issuedCount(own.tenantId);
      expect(versions).toEqual(Array.from({ length: 2 + accepted.length }, (_, i) => i + 1));
      const { rows } = await api.db.pool.query('SELECT 1 FROM api_keys WHERE tenant_id = $1', [own.tenantId]);
      expect(rows).toHaveLength(1 + accepted.length);
    });
  });

  describe('Authentication of tenant routes', () => {
    const routes: [string, string][] = [
      ['GET', '/v1/api-keys'],
      ['POST', '/v1/api-keys'],
      ['DELETE', '/v1/api-keys/some-id'],
      ['GET', '/v1/events'],
      ['GET', '/v1/cron/describe?expr=*%20*%20*%20*%20*'],
    ];

    it.each(routes)('should answer 401 to %s %s without a key', async (method, path) => {
      const res = await call(method, path, undefined, method === 'POST' ? { name: 'x' } : undefined);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'AUTH.UNAUTHORIZED', message: expect.any(String) });
    });

    it.each(routes)('should answer 401 to %s %s with a bad key', async (method, path) => {
      const res = await call(
        method,
        path,
        'ck_live_notarealkeyatall',
        method === 'POST' ? { name: 'x' } : undefined,
      );
      expect(res.status).toBe(401);
    });

    it.each(routes)('should answer 401 to %s %s with the admin key', async (method, path) => {
      const res = await call(method, path, api.adminKey, method === 'POST' ? { name: 'x' } : undefined);
      expect(res.status).toBe(401);
    });
  });
});
