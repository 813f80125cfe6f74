import { EventEnvelope } from '@cronicorn/events';
import { request } from '../../test/http';
import { startApi, TestApi } from '../../test/harness';

type Page = { events: EventEnvelope[]; nextAfter: string | null };

describe('GET /v1/events', () => {
  let api: TestApi;
  let mine: { tenantId: string; apiKey: string };
  let theirs: { tenantId: string; apiKey: string };

  const page = (apiKey: string, query = '') =>
    request<Page>(api.url, 'GET', `/v1/events${query}`, { apiKey });
  const issueKey = (apiKey: string, name: string) =>
    request(api.url, 'POST', '/v1/api-keys', { apiKey, body: { name } });

  beforeAll(async () => {
    // Other suites' transactions on the same server (CREATE DATABASE, …) can hold the log's
    // horizon back for seconds: wait for positions as long as a test may take.
    api = await startApi({ env: { API_MIN_POSITION_TIMEOUT_MS: '20000' } });
    mine = await api.createTenant('Mine');
    theirs = await api.createTenant('Theirs');
    // Interleave the two tenants' writes.
    for (let i = 0; i < 3; i++) {
      await issueKey(mine.apiKey, `mine-${i}`);
      await issueKey(theirs.apiKey, `theirs-${i}`);
    }
  });

  afterAll(async () => {
    await api?.close();
  });

  it('should list the tenant\u2019s events in commit order and none of another tenant', async () => {
    const res = await page(mine.apiKey);
    expect(res.status).toBe(200);
    const { events, nextAfter } = res.body;
    expect(events.map((e) => e.type)).toEqual([
      'TenantCreated',
      'ApiKeyIssued',
      'ApiKeyIssued',
      'ApiKeyIssued',
      'ApiKeyIssued',
    ]);
    expect(
      events.every((e) => e.tenantId === mine.tenantId && e.streamId === `tenant-${mine.tenantId}`),
    ).toBe(true);
    expect(events.map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5]);
    expect(nextAfter).toBe(events[events.length - 1].position);
    expect(events[0]).toMatchObject({
      id: expect.any(String),
      schemaVersion: 1,
      position: expect.stringMatching(/^\d+$/),
      occurredAt: expect.any(String),
      data: { tenantId: mine.tenantId, name: 'Mine' },
      metadata: { tenantId: mine.tenantId, actor: 'admin', correlationId: expect.any(String) },
    });
  });

  it('should page with after and limit without gaps or repeats', async () => {
    const all = (await page(mine.apiKey)).body.events.map((e) => e.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10 && seen.length < all.length; i++) {
      const query: string = `?limit=2${after ? `&after=${after}` : ''}`;
      const res = await page(mine.apiKey, query);
      expect(res.status).toBe(200);
      expect(res.body.events.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.events.map((e) => e.id));
      after = res.body.nextAfter;
    }
    expect(seen).toEqual(all);
    const end = await page(mine.apiKey, `?after=${after}`);
    expect(end.body).toEqual({ events: [], nextAfter: after });
  });

  it('should accept another tenant\u2019s position as after without showing their events', async () => {
    const theirFirst = (await page(theirs.apiKey)).body.events[0].position;
    const res = await page(mine.apiKey, `?after=${theirFirst}`);
    expect(res.status).toBe(200);
    expect(res.body.events.every((e) => e.tenantId === mine.tenantId)).toBe(true);
  });

  it('should filter by type and by stream', async () => {
    const byType = await page(mine.apiKey, '?type=TenantCreated');
    expect(byType.body.events.map((e) => e.type)).toEqual(['TenantCreated']);
    const byStream = await page(mine.apiKey, `?streamId=tenant-${theirs.tenantId}`);
    expect(byStream.status).toBe(200);
    expect(byStream.body.events).toEqual([]);
  });

  it('should find events of a type behind many of other types', async () => {
    const busy = await api.createTenant('Busy');
    const keys: Array<{ id: string }> = [];
    // A filtered read looks at 10 times its limit of log entries per call: more than that first.
    for (let i = 0; i < 12; i++) keys.push((await issueKey(busy.apiKey, `busy-${i}`)).body as { id: string });
    const revoked = await request(api.url, 'DELETE', `/v1/api-keys/${keys[0].id}`, { apiKey: busy.apiKey });

    const res = await request<Page>(api.url, 'GET', '/v1/events?type=ApiKeyRevoked&limit=1', {
      apiKey: busy.apiKey,
      headers: { 'x-min-position': revoked.body.position as string },
    });

    expect(res.status).toBe(200);
    expect(res.body.events.map((e) => e.type)).toEqual(['ApiKeyRevoked']);
  });

  it('should wait for a position given in x-min-position and answer without the lag flag', async () => {
    const res = await request(api.url, 'POST', '/v1/api-keys', {
      apiKey: mine.apiKey,
      body: { name: 'latest' },
    });
    const read = await request<Page>(api.url, 'GET', '/v1/events', {
      apiKey: mine.apiKey,
      headers: { 'x-min-position': res.body.position as string },
    });
    expect(read.headers.get('x-read-model-lagging')).toBeNull();
    expect(read.body.events.map((e) => e.position)).toContain(res.body.position);
  });

  it.each([
    ['limit', '?limit=501'],
    ['limit', '?limit=0'],
    ['limit', '?limit=%2010'],
    ['after', '?after=abc'],
    ['after', '?after=999999999'],
    ['type', '?type=RunFinised'],
    ['type', '?type=RunFinished,NoSuchEvent'],
  ])('should answer 400 naming %s for %s', async (field, query) => {
    const res = await page(mine.apiKey, query);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ fields: { [field]: expect.any(String) } });
  });
});
