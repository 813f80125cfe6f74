import { randomUUID } from 'node:crypto';
import { request } from '../../../test/http';
import { startApi, TestApi } from '../../../test/harness';

describe('Idempotency-Key', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startApi();
  });

  afterAll(async () => {
    await api?.close();
  });

  const count = async (sql: string, params: unknown[] = []) =>
    Number((await api.db.pool.query<{ n: string }>(sql, params)).rows[0].n);
  const tenantsCreated = () => count(`SELECT count(*) AS n FROM events WHERE type = 'TenantCreated'`);

  describe('When POST /v1/tenants is retried with the same key', () => {
    it('should return the first answer and create the tenant once', async () => {
      const key = randomUUID();
      const before = await tenantsCreated();
      const send = () =>
        request(api.url, 'POST', '/v1/tenants', {
          apiKey: api.adminKey,
          body: { name: 'Once' },
          headers: { 'Idempotency-Key': key },
        });
      const first = await send();
      const second = await send();

      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.body).toEqual(first.body);
      expect(second.headers.get('idempotency-replayed')).toBe('true');
      expect(first.headers.get('idempotency-replayed')).toBeNull();
      expect(second.headers.get('x-position')).toBe(first.body.position);
      expect(await tenantsCreated()).toBe(before + 1);
    });

    it('should not keep the issued API key readable in the database', async () => {
      const key = randomUUID();
      const res = await request(api.url, 'POST', '/v1/tenants', {
        apiKey: api.adminKey,
        body: { name: 'Secretive' },
        headers: { 'Idempotency-Key': key },
      });
      const { rows } = await api.db.pool.query('SELECT * FROM idempotency_keys');
      const dump = JSON.stringify(rows);
      expect(dump).not.toContain(res.body.apiKey as string);
      expect(dump).not.toContain(key);
    });
  });

  describe('When POST /v1/api-keys is retried with the same key', () => {
    it('should return the same key and write one ApiKeyIssued', async () => {
      const tenant = await api.createTenant();
      const key = randomUUID();
      const send = () =>
        request(api.url, 'POST', '/v1/api-keys', {
          apiKey: tenant.apiKey,
          body: { name: 'retry-me' },
          headers: { 'Idempotency-Key': key },
        });
      const first = await send();
      const second = await send();
      expect(first.status).toBe(201);
      expect(second).toMatchObject({ status: 201, body: first.body });
      const issued = await count(
        `SELECT count(*) AS n FROM events WHERE stream_id = $1 AND type = 'ApiKeyIssued'`,
        [`tenant-${tenant.tenantId}`],
      );
      expect(issued).toBe(2); // the default key and this one
      expect(await count('SELECT count(*) AS n FROM api_keys WHERE tenant_id = $1', [tenant.tenantId])).toBe(
        2,
      );
    });

    it('should keep keys of different tenants apart', async () => {
      const [a, b] = [await api.createTenant(), await api.createTenant()];
      const key = randomUUID();
      const send = (apiKey: string) =>
        request(api.url, 'POST', '/v1/api-keys', {
          apiKey,
          body: { name: 'k' },
          headers: { 'Idempotency-Key': key },
        });
      const first = await send(a.apiKey);
      const second = await send(b.apiKey);
      expect(second.status).toBe(201);
      expect(second.headers.get('idempotency-replayed')).toBeNull();
      expect(second.body.keyId).not.toEqual(first.body.keyId);
    });
  });

  describe('When the key is reused with another body', () => {
    it('should answer 422 and write nothing', async () => {
      const key = randomUUID();
      const first = await request(api.url, 'POST', '/v1/tenants', {
        apiKey: api.adminKey,
        body: { name: 'First' },
        headers: { 'Idempotency-Key': key },
      });
      expect(first.status).toBe(201);
      const before = await tenantsCreated();
      const reused = await request(api.url, 'POST', '/v1/tenants', {
        apiKey: api.adminKey,
        body: { name: 'Second' },
        headers: { 'Idempotency-Key': key },
      });
      expect(reused.status).toBe(422);
      expect(reused.body).toMatchObject({ error: 'IDEMPOTENCY.KEY_REUSED' });
      expect(await tenantsCreated()).toBe(before);
    });
  });

  describe('When the first request failed', () => {
    it('should not store the failure, so a corrected retry runs', async () => {
      const key = randomUUID();
      const bad = await request(api.url, 'POST', '/v1/tenants', {
        apiKey: api.adminKey,
        body: { name: '' },
        headers: { 'Idempotency-Key': key },
      });
      expect(bad.status).toBe(400);
      const good = await request(api.url, 'POST', '/v1/tenants', {
        apiKey: api.adminKey,
        body: { name: 'Fixed' },
        headers: { 'Idempotency-Key': key },
      });
      expect(good.status).toBe(201);
      expect(good.headers.get('idempotency-replayed')).toBeNull();
    });
  });

  describe('When the stored answer is older than 24 h', () => {
    it('should replay it before then and run the request again after', async () => {
      const key = randomUUID();
      const send = () =>
        request(api.url, 'POST', '/v1/tenants', {
          apiKey: api.adminKey,
          body: { name: 'Expiring' },
          headers: { 'Idempotency-Key': key },
        });
      const age = (hours: number) =>
        api.db.pool.query(`UPDATE idempotency_keys SET created_at = now() - make_interval(hours => $1)`, [
          hours,
        ]);
      const before = await tenantsCreated();
      const first = await send();
      await age(23);
      const replayed = await send();
      await age(25);
      const rerun = await send();

      expect(replayed).toMatchObject({ status: 201, body: first.body });
      expect(replayed.headers.get('idempotency-replayed')).toBe('true');
      expect(rerun.status).toBe(201);
      expect(rerun.headers.get('idempotency-replayed')).toBeNull();
      expect(rerun.body.tenantId).not.toEqual(first.body.tenantId);
      expect(await tenantsCreated()).toBe(before + 2);
    });
  });

  describe('When duplicates arrive concurrently', () => {
    it('should create once; the others replay or answer 409 IN_PROGRESS', async () => {
      const key = randomUUID();
      const before = await tenantsCreated();
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          request(api.url, 'POST', '/v1/tenants', {
            apiKey: api.adminKey,
            body: { name: 'Racy' },
            headers: { 'Idempotency-Key': key },
          }),
        ),
      );
      const created = answers.filter((a) => a.status === 201);
      const busy = answers.filter((a) => a.status === 409);
      expect(created.length + busy.length).toBe(answers.length);
      expect(created.length).toBeGreaterThanOrEqual(1);
      expect(new Set(created.map((a) => a.body.tenantId)).size).toBe(1);
      for (const b of busy) expect(b.body).toMatchObject({ error: 'IDEMPOTENCY.IN_PROGRESS' });
      expect(await tenantsCreated()).toBe(before + 1);
    });
  });

  describe('When many keyed requests run at once', () => {
    it('should serve them all without starving the connection pool', async () => {
      const answers = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          request(api.url, 'POST', '/v1/tenants', {
            apiKey: api.adminKey,
            body: { name: `Crowd ${i}` },
            headers: { 'Idempotency-Key': randomUUID() },
          }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201));
    });
  });

  it('should refuse a malformed key with 400', async () => {
    const res = await request(api.url, 'POST', '/v1/tenants', {
      apiKey: api.adminKey,
      body: { name: 'x' },
      headers: { 'Idempotency-Key': 'x'.repeat(300) },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'IDEMPOTENCY.KEY_INVALID' });
  });
});
