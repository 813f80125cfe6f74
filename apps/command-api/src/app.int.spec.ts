import { request } from '../test/http';
import { startApi, TestApi } from '../test/harness';

describe('command-api app', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startApi({ env: { API_MIN_POSITION_TIMEOUT_MS: '300' } });
  });

  afterAll(async () => {
    await api?.close();
  });

  describe('Swagger', () => {
    it('should serve /docs-json with the api-key scheme and the core routes', async () => {
      const res = await request<{
        components: { securitySchemes: Record<string, unknown> };
        paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>>;
      }>(api.url, 'GET', '/docs-json');
      expect(res.status).toBe(200);
      expect(res.body.components.securitySchemes['api-key']).toEqual({
        type: 'apiKey',
        in: 'header',
        name: 'x-api-key',
      });
      for (const path of [
        '/v1/tenants',
        '/v1/api-keys',
        '/v1/api-keys/{id}',
        '/v1/events',
        '/v1/cron/describe',
      ]) {
        expect(Object.keys(res.body.paths)).toContain(path);
      }
      expect(res.body.paths['/v1/tenants'].post.security).toEqual([{ 'api-key': [] }]);
      expect(res.body.paths['/v1/healthz']).toBeUndefined();
    });

    it('should serve the Swagger UI at /docs', async () => {
      const res = await fetch(`${api.url}/docs`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('swagger');
    });
  });

  it('should not name its framework in an X-Powered-By header', async () => {
    for (const path of ['/healthz', '/v1/jobs', '/docs-json']) {
      const res = await fetch(`${api.url}${path}`);
      expect({ path, poweredBy: res.headers.get('x-powered-by') }).toEqual({ path, poweredBy: null });
    }
  });

  it.each(['/healthz', '/readyz', '/metrics'])('should answer %s with 200', async (path) => {
    expect((await fetch(`${api.url}${path}`)).status).toBe(200);
  });

  describe('x-min-position', () => {
    const write = async () => {
      const tenant = await api.createTenant();
      const issued = await request(api.url, 'POST', '/v1/api-keys', {
        apiKey: tenant.apiKey,
        body: { name: 'k' },
      });
      return { ...tenant, position: issued.body.position as string };
    };

    it('should answer a read-model route with what is there and flag the lag when the projector is behind', async () => {
      // No projector runs in this test: the read models never reach the position.
      const { apiKey, position } = await write();
      const res = await request(api.url, 'GET', '/v1/jobs', {
        apiKey,
        headers: { 'x-min-position': position },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-read-model-lagging')).toBe('true');
    });

    it('should answer a read-model route without the flag once the projector has the position', async () => {
      const { apiKey, position } = await write();
      // Stand in for the projector: its checkpoint at the write.
      await api.db.pool.query(
        `INSERT INTO consumer_checkpoints (consumer, transaction_id, position)
         SELECT 'projector', transaction_id::text::bigint, position FROM events WHERE position = $1::bigint
         ON CONFLICT (consumer) DO UPDATE SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position`,
        [position],
      );
      const res = await request(api.url, 'GET', '/v1/jobs', {
        apiKey,
        headers: { 'x-min-position': position },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-read-model-lagging')).toBeNull();
    });

    it('should not wait on routes that read tables written with the events', async () => {
      const { apiKey, position } = await write();
      const res = await request(api.url, 'GET', '/v1/api-keys', {
        apiKey,
        headers: { 'x-min-position': position },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-read-model-lagging')).toBeNull();
    });

    it('should not wait on routes that read the event streams or no data at all', async () => {
      const { apiKey } = await api.createTenant();
      const job = await request(api.url, 'POST', '/v1/jobs', { apiKey, body: { name: 'j' } });
      const endpoint = await request(api.url, 'POST', `/v1/jobs/${job.body.id as string}/endpoints`, {
        apiKey,
        body: { name: 'e', url: 'https://example.com/x', intervalMs: 60_000 },
      });
      const position = endpoint.body.position as string;
      for (const path of [
        `/v1/endpoints/${endpoint.body.id as string}/state?asOf=${new Date(Date.now() + 60_000).toISOString()}`,
        '/v1/cron/describe?expr=0%209%20*%20*%20*',
      ]) {
        const res = await request(api.url, 'GET', path, { apiKey, headers: { 'x-min-position': position } });
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        expect(res.headers.get('x-read-model-lagging')).toBeNull();
      }
    });

    it('should not flag the lag for position 0, which is before every event', async () => {
      // No projector runs in this test, yet nothing has to be caught up to read from the start.
      const { apiKey } = await api.createTenant();
      for (const path of ['/v1/jobs', '/v1/events']) {
        const res = await request(api.url, 'GET', path, { apiKey, headers: { 'x-min-position': '0' } });
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        expect(res.headers.get('x-read-model-lagging')).toBeNull();
      }
    });

    it('should answer 400 to a position that is not digits', async () => {
      const { apiKey } = await api.createTenant();
      const res = await request(api.url, 'GET', '/v1/api-keys', {
        apiKey,
        headers: { 'x-min-position': '12abc' },
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ fields: { 'x-min-position': expect.any(String) } });
    });
  });
});
