import { request } from '../../test/http';
import { startApi, TestApi } from '../../test/harness';

// Endpoint URLs with user info (`user:password@`): the URL is stored, answered and published
// in clear, so credentials in it would leak (DESIGN §8). Refused on every path that sets one.

interface ErrorBody {
  error: string;
  message: string;
  fields?: Record<string, string>;
}

describe('Endpoint URLs with credentials', () => {
  let api: TestApi;
  let tenant: { tenantId: string; apiKey: string };
  let jobId: string;
  const call = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) =>
    request<T>(api.url, method, path, { apiKey: tenant.apiKey, body });
  const valid = { name: 'a', url: 'https://example.com/x', intervalMs: 60_000 };

  /** The tenant's events, as text: nothing written may hold the credentials. */
  const tenantEvents = async () =>
    (
      await api.db.pool.query<{ type: string; data: unknown }>(
        'SELECT type, data FROM events WHERE tenant_id = $1 ORDER BY position',
        [tenant.tenantId],
      )
    ).rows;

  beforeAll(async () => {
    api = await startApi();
    tenant = await api.createTenant('Credentials in URLs');
    const job = await call<{ id: string }>('POST', '/v1/jobs', { name: 'job' });
    expect(job.status).toBe(201);
    jobId = job.body.id;
  });

  afterAll(async () => {
    await api?.close();
  });

  describe('When an endpoint is created', () => {
    it.each([
      ['a user name and password', 'http://u:p@example.com/x'],
      ['a user name only (a token)', 'https://token@example.com/x'],
      ['a password only', 'https://:p@example.com/x'],
    ])('should answer 400 naming url for %s, and write nothing', async (_name, url) => {
      const before = await tenantEvents();

      const res = await call<ErrorBody>('POST', `/v1/jobs/${jobId}/endpoints`, { ...valid, url });

      expect(res.status).toBe(400);
      expect(Object.keys(res.body.fields ?? {})).toEqual(['url']);
      expect(res.body.fields?.url).toMatch(/secret header.*Authorization.*secretHeaders/);
      expect(await tenantEvents()).toEqual(before);
    });

    it('should accept an @ outside the authority', async () => {
      const url = 'https://example.com/users/a@b.example?to=c@d.example';
      const res = await call('POST', `/v1/jobs/${jobId}/endpoints`, { ...valid, name: 'at', url });
      expect(res.status).toBe(201);
    });
  });

  describe('When an endpoint is changed', () => {
    it('should answer 400 naming url to a url with credentials, and write nothing', async () => {
      const created = await call<{ id: string }>('POST', `/v1/jobs/${jobId}/endpoints`, {
        ...valid,
        name: 'to patch',
      });
      expect(created.status).toBe(201);
      const before = await tenantEvents();

      const res = await call<ErrorBody>('PATCH', `/v1/endpoints/${created.body.id}`, {
        url: 'http://u:p@example.com/x',
      });

      expect(res.status).toBe(400);
      expect(Object.keys(res.body.fields ?? {})).toEqual(['url']);
      expect(res.body.fields?.url).toMatch(/secretHeaders/);
      expect(await tenantEvents()).toEqual(before);
      expect(JSON.stringify(before)).not.toContain('u:p@');
    });
  });
});
