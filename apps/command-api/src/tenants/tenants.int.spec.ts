import { startApi, TestApi } from '../../test/harness';

describe('POST /v1/tenants', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startApi();
  });

  afterAll(async () => {
    await api?.close();
  });

  const post = (headers: Record<string, string>, body: unknown = { name: 'Acme' }) =>
    fetch(`${api.url}/v1/tenants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('should create a tenant with its first key, shown once, for the admin key', async () => {
    const res = await post({ 'x-api-key': api.adminKey });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toEqual({
      id: body.tenantId,
      tenantId: expect.any(String),
      apiKey: expect.stringMatching(/^ck_live_[A-Za-z0-9_-]{43}$/),
      keyId: expect.any(String),
      position: expect.stringMatching(/^\d+$/),
    });
    expect(res.headers.get('x-position')).toBe(body.position);

    const { rows } = await api.db.pool.query<{ type: string; data: Record<string, unknown> }>(
      'SELECT type, data FROM events WHERE stream_id = $1 ORDER BY stream_version',
      [`tenant-${body.tenantId}`],
    );
    expect(rows.map((r) => r.type)).toEqual(['TenantCreated', 'ApiKeyIssued']);
    expect(JSON.stringify(rows)).not.toContain(body.apiKey);

    const keys = await fetch(`${api.url}/v1/api-keys`, { headers: { 'x-api-key': body.apiKey } });
    expect(keys.status).toBe(200);
  });

  it('should answer 401 without a key', async () => {
    const res = await post({});
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'AUTH.UNAUTHORIZED' });
  });

  it('should answer 401 to a tenant key', async () => {
    const { apiKey } = await api.createTenant();
    expect((await post({ 'x-api-key': apiKey })).status).toBe(401);
  });

  it('should answer 401 to a wrong admin key', async () => {
    expect((await post({ 'x-api-key': `${api.adminKey}x` })).status).toBe(401);
  });

  it('should answer 400 naming the field for an empty name', async () => {
    const res = await post({ 'x-api-key': api.adminKey }, { name: '' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'VALIDATION_FAILED',
      fields: { name: expect.any(String) },
    });
  });
});
