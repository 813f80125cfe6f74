import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig } from '@cronicorn/platform';
import { createTestNats, TestNats } from '@cronicorn/testing';
import { request } from '../../test/http';
import { startApi, TestApi } from '../../test/harness';
import { startCommandApi } from '../api';

describe('Error answers', () => {
  describe('When the input is bad', () => {
    let api: TestApi;
    let apiKey: string;

    beforeAll(async () => {
      api = await startApi();
      ({ apiKey } = await api.createTenant());
    });

    afterAll(async () => {
      await api?.close();
    });

    it('should answer 400 BAD_JSON to malformed JSON', async () => {
      const res = await request(api.url, 'POST', '/v1/api-keys', { apiKey, rawBody: '{"name": "x",' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'BAD_JSON', message: expect.any(String) });
    });

    it('should answer 400 BAD_JSON saying an object is expected to JSON null', async () => {
      const res = await request(api.url, 'POST', '/v1/api-keys', { apiKey, rawBody: 'null' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'BAD_JSON', message: 'The body must be a JSON object' });
    });

    it('should answer 400 naming an unknown field', async () => {
      const res = await request(api.url, 'POST', '/v1/api-keys', {
        apiKey,
        body: { name: 'x', color: 'red' },
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'VALIDATION_FAILED', fields: { color: expect.any(String) } });
      expect(res.body.message).toContain('color');
    });

    it('should answer 400 naming a field sent to a command that takes no body', async () => {
      const res = await request(api.url, 'POST', `/v1/endpoints/${randomUUID()}/trigger`, {
        apiKey,
        body: { foo: 1 },
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'VALIDATION_FAILED',
        message: 'Unknown field(s): foo',
        fields: { foo: 'is not an accepted field' },
      });
    });

    it('should answer 400 naming an unknown query parameter', async () => {
      const res = await request(api.url, 'GET', '/v1/events?colour=red', { apiKey });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ fields: { colour: expect.any(String) } });
    });

    it('should answer 400 naming a field of the wrong type', async () => {
      const res = await request(api.url, 'POST', '/v1/api-keys', { apiKey, body: { name: 42 } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ fields: { name: expect.any(String) } });
    });

    it('should answer 400 BAD_JSON saying an object is expected to a JSON array', async () => {
      const res = await request(api.url, 'POST', '/v1/api-keys', { apiKey, rawBody: '[{"name":"x"}]' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'BAD_JSON', message: 'The body must be a JSON object' });
    });

    it('should answer 400 naming the field of a body nested too deeply for the validation, not 500', async () => {
      const deep = `${'['.repeat(5_000)}1${']'.repeat(5_000)}`;
      const res = await request(api.url, 'POST', `/v1/jobs/${randomUUID()}/endpoints`, {
        apiKey,
        rawBody: `{"name":"e","url":"https://example.com/x","intervalMs":60000,"body":${deep}}`,
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        error: 'VALIDATION_FAILED',
        fields: { body: 'must not nest deeper than 32 levels' },
      });
    });

    it('should refuse the keys __proto__, constructor and prototype, naming them, rather than drop them', async () => {
      const top = await request(api.url, 'POST', '/v1/api-keys', {
        apiKey,
        rawBody: '{"name":"x","__proto__":{"admin":true},"constructor":1}',
      });
      expect(top.status).toBe(400);
      expect(top.body).toMatchObject({
        error: 'VALIDATION_FAILED',
        fields: { ['__proto__']: 'is not an accepted field', constructor: 'is not an accepted field' },
      });

      const nested = await request(api.url, 'POST', `/v1/jobs/${randomUUID()}/endpoints`, {
        apiKey,
        body: {
          name: 'e',
          url: 'https://example.com/x',
          intervalMs: 60_000,
          headers: { prototype: 'v' },
          body: { car: { constructor: 'Ford' } },
        },
      });
      expect(nested.status).toBe(400);
      expect(nested.body).toMatchObject({
        fields: { 'headers.prototype': expect.any(String), 'body.car.constructor': expect.any(String) },
      });

      const query = await request(api.url, 'GET', '/v1/jobs?constructor=1', { apiKey });
      expect(query.status).toBe(400);
      expect(query.body).toMatchObject({ fields: { constructor: 'is not an accepted field' } });
    });

    it('should answer 413 to an oversized body', async () => {
      const res = await request(api.url, 'POST', '/v1/api-keys', {
        apiKey,
        body: { name: 'x'.repeat(300 * 1024) },
      });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
    });

    describe('When an event position is beyond a bigint', () => {
      const TOO_BIG = '9223372036854775808';

      it('should answer 400 naming after on /v1/events and /v1/events/stream', async () => {
        for (const path of [`/v1/events?after=${TOO_BIG}`, `/v1/events/stream?after=${TOO_BIG}`]) {
          const res = await request(api.url, 'GET', path, { apiKey });
          expect({ path, status: res.status }).toEqual({ path, status: 400 });
          expect(res.body).toMatchObject({ fields: { after: expect.any(String) } });
        }
      });

      it('should answer 400 naming Last-Event-ID', async () => {
        const res = await request(api.url, 'GET', '/v1/events/stream', {
          apiKey,
          headers: { 'last-event-id': TOO_BIG },
        });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ fields: { 'last-event-id': expect.any(String) } });
      });

      it('should answer 400 naming x-min-position on reads and on a trigger', async () => {
        for (const [method, path] of [
          ['GET', '/v1/jobs'],
          ['GET', '/v1/events'],
          ['POST', '/v1/triggers/deploy'],
        ]) {
          const res = await request(api.url, method, path, {
            apiKey,
            headers: { 'x-min-position': TOO_BIG },
            body: method === 'POST' ? {} : undefined,
          });
          expect({ path, status: res.status }).toEqual({ path, status: 400 });
          expect(res.body).toMatchObject({ fields: { 'x-min-position': expect.any(String) } });
        }
      });

      it('should read /v1/events from the start with after=0, as the stream does', async () => {
        const res = await request<{ events: { type: string }[] }>(api.url, 'GET', '/v1/events?after=0', {
          apiKey,
        });
        expect(res.status).toBe(200);
        expect(res.body.events[0]).toMatchObject({ type: 'TenantCreated' });
      });
    });

    it('should answer 400 naming cursor to a forged cursor that Postgres cannot read', async () => {
      const forged = [
        ['0', 'x'],
        ['+275760-09-13T00:00:00.000Z', 'x'],
        ['2025-03-01T09:00:00.000Z', 'a\u0000b'],
      ].map((key) => Buffer.from(JSON.stringify(key)).toString('base64url'));
      for (const cursor of forged) {
        for (const path of ['/v1/jobs', '/v1/endpoints']) {
          const res = await request(api.url, 'GET', `${path}?cursor=${cursor}`, { apiKey });
          expect({ path, cursor, status: res.status }).toEqual({ path, cursor, status: 400 });
          expect(res.body).toMatchObject({ fields: { cursor: expect.any(String) } });
        }
      }
    });

    it('should answer 400 naming the field to a NUL character that Postgres cannot store', async () => {
      const job = await request<{ id: string }>(api.url, 'POST', '/v1/jobs', {
        apiKey,
        body: { name: 'nul' },
      });
      const endpoint = await request<{ id: string }>(api.url, 'POST', `/v1/jobs/${job.body.id}/endpoints`, {
        apiKey,
        body: { name: 'e', url: 'https://example.com/x', intervalMs: 60_000 },
      });
      expect(endpoint.status).toBe(201);
      const cases: [string, string, string, unknown][] = [
        ['POST', '/v1/api-keys', 'name', { name: 'a\u0000b' }],
        [
          'POST',
          '/v1/subscriptions',
          'url',
          { url: 'https://example.com/\u0000', eventTypes: ['RunFinished'] },
        ],
        [
          'POST',
          `/v1/jobs/${job.body.id}/endpoints`,
          'url',
          { name: 'e', url: 'https://x.com/\u0000', intervalMs: 60_000 },
        ],
        ['PATCH', `/v1/endpoints/${endpoint.body.id}`, 'url', { url: 'https://x.com/\u0000' }],
        ['GET', '/v1/events?streamId=%00', 'streamId', undefined],
      ];
      for (const [method, path, field, body] of cases) {
        const res = await request(api.url, method, path, { apiKey, body });
        expect({ path, status: res.status }).toEqual({ path, status: 400 });
        expect(res.body).toMatchObject({ fields: { [field]: expect.any(String) } });
      }
      const tenant = await request(api.url, 'POST', '/v1/tenants', {
        apiKey: api.adminKey,
        body: { name: 'a\u0000b' },
      });
      expect(tenant.status).toBe(400);
      expect(tenant.body).toMatchObject({ fields: { name: expect.any(String) } });
    });

    it('should answer 400 naming a query parameter sent to a route that takes none', async () => {
      const read = await request(api.url, 'GET', '/v1/api-keys?limit=1', { apiKey });
      expect(read.status).toBe(400);
      expect(read.body).toMatchObject({ fields: { limit: 'is not an accepted field' } });

      const write = await request(api.url, 'POST', '/v1/jobs?dryRun=true', { apiKey, body: { name: 'dry' } });
      expect(write.status).toBe(400);
      expect(write.body).toMatchObject({ fields: { dryRun: 'is not an accepted field' } });
      const jobs = await api.db.pool.query(
        `SELECT 1 FROM events WHERE type = 'JobCreated' AND data->>'name' = 'dry'`,
      );
      expect(jobs.rowCount).toBe(0);
    });

    it('should read a text/plain or untyped body as JSON (what fetch sends for a string)', async () => {
      const until = '2030-01-01T00:00:00.000Z';
      const created = await request<{ id: string }>(api.url, 'POST', '/v1/jobs', {
        apiKey,
        rawBody: JSON.stringify({ name: 'plain' }),
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
      });
      expect(created.status).toBe(201);
      const paused = await request(api.url, 'POST', `/v1/jobs/${created.body.id}/pause`, {
        apiKey,
        rawBody: JSON.stringify({ until }),
        headers: { 'content-type': 'text/plain' },
      });
      expect(paused.status).toBe(202);
      const { rows } = await api.db.pool.query(
        `SELECT data->>'until' AS until FROM events WHERE type = 'JobPaused' AND stream_id = $1`,
        [`job-${created.body.id}`],
      );
      expect(rows).toEqual([{ until }]);
      const broken = await request(api.url, 'POST', '/v1/jobs', {
        apiKey,
        rawBody: 'name=plain',
        headers: { 'content-type': 'text/plain' },
      });
      expect(broken.status).toBe(400);
      expect(broken.body).toMatchObject({ error: 'BAD_JSON' });
    });

    it('should answer 415 to a body of another type, writing nothing', async () => {
      const job = await request<{ id: string }>(api.url, 'POST', '/v1/jobs', {
        apiKey,
        body: { name: 'ct' },
      });
      const until = '2030-01-01T00:00:00Z';
      const cases: [string, string, string][] = [
        [`/v1/jobs/${job.body.id}/pause`, `<until>${until}</until>`, 'application/xml'],
        ['/v1/jobs', 'name=form', 'application/x-www-form-urlencoded'],
        [`/v1/jobs/${job.body.id}/resume`, 'hello', 'application/octet-stream'],
      ];
      for (const [path, rawBody, type] of cases) {
        const res = await request(api.url, 'POST', path, {
          apiKey,
          rawBody,
          headers: { 'content-type': type },
        });
        expect({ path, type, status: res.status }).toEqual({ path, type, status: 415 });
        expect(res.body).toMatchObject({
          error: 'UNSUPPORTED_MEDIA_TYPE',
          message: expect.stringContaining('application/json'),
        });
      }
      const written = await api.db.pool.query(
        `SELECT 1 FROM events
          WHERE (type IN ('JobPaused', 'JobResumed') AND stream_id = $1)
             OR (type = 'JobCreated' AND data->>'name' = 'form')`,
        [`job-${job.body.id}`],
      );
      expect(written.rowCount).toBe(0);
    });

    it('should answer 400 naming a path parameter that is not valid percent-encoding', async () => {
      for (const [method, path, field] of [
        ['GET', '/v1/jobs/%E0%A4%A', 'id'],
        ['POST', '/v1/jobs/%/endpoints', 'jobId'],
      ]) {
        const res = await request(api.url, method, path, { apiKey });
        expect({ path, status: res.status }).toEqual({ path, status: 400 });
        expect(res.body).toEqual({
          error: 'VALIDATION_FAILED',
          message: `Invalid input: ${field}`,
          fields: { [field]: 'is not valid percent-encoding' },
        });
      }
    });

    it('should answer 404 in the error shape for an unknown route', async () => {
      const res = await request(api.url, 'GET', '/v1/nothing-here', { apiKey });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ error: 'NOT_FOUND', message: expect.any(String) });
    });
  });

  describe('When Postgres is unreachable', () => {
    let api: TestApi;

    beforeAll(async () => {
      api = await startApi({ postgresProxy: true });
    });

    afterAll(async () => {
      await api?.close();
    });

    it('should answer 503 to reads and writes, and recover when it is back', async () => {
      const { apiKey } = await api.createTenant();
      await api.postgresProxy!.pause();

      const read = await request(api.url, 'GET', '/v1/api-keys', { apiKey });
      expect(read.status).toBe(503);
      expect(read.body).toMatchObject({ error: 'SERVICE_UNAVAILABLE' });
      const write = await request(api.url, 'POST', '/v1/tenants', {
        apiKey: api.adminKey,
        body: { name: 'Nope' },
      });
      expect(write.status).toBe(503);

      await api.postgresProxy!.resume();
      const again = await request(api.url, 'GET', '/v1/api-keys', { apiKey });
      expect(again.status).toBe(200);
    });
  });

  describe('When Postgres was never reachable since start-up', () => {
    let app: NestExpressApplication;
    let nats: TestNats;
    let url: string;
    let deadPort: Server;

    beforeAll(async () => {
      nats = await createTestNats();
      // A port that accepts nothing: bind it, then close it, and keep nobody listening there.
      deadPort = createServer();
      await new Promise<void>((resolve) => deadPort.listen(0, '127.0.0.1', resolve));
      const { port } = deadPort.address() as AddressInfo;
      await new Promise<void>((resolve) => deadPort.close(() => resolve()));
      const env = {
        DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/cronicorn_never`,
        NATS_URL: nats.url,
        CRONICORN_NATS_NAMESPACE: nats.names.namespace,
        PORT: '0',
        ADMIN_API_KEY: 'admin-key-for-this-test',
        LOG_LEVEL: 'silent',
      };
      app = await startCommandApi({ config: loadConfig('command-api', env), env });
      url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await app?.close();
      await nats?.cleanup();
    });

    it('should answer 503 on /v1 routes while /healthz stays 200 and /readyz says 503', async () => {
      const res = await request(url, 'POST', '/v1/tenants', {
        apiKey: 'admin-key-for-this-test',
        body: { name: 'x' },
      });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({
        error: 'SERVICE_UNAVAILABLE',
        message: expect.stringContaining('not ready'),
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(503);
    });
  });

  describe('When a key exceeds its rate limit', () => {
    let api: TestApi;

    beforeAll(async () => {
      // One request per 100 s after a burst of 3: the fourth request is over, whatever the speed.
      api = await startApi({ env: { API_RATE_LIMIT_PER_SECOND: '0.01', API_RATE_LIMIT_BURST: '3' } });
    });

    afterAll(async () => {
      await api?.close();
    });

    it('should answer 429 with Retry-After, per key', async () => {
      const { apiKey } = await api.createTenant();
      for (let i = 0; i < 3; i++) {
        expect((await request(api.url, 'GET', '/v1/api-keys', { apiKey })).status).toBe(200);
      }
      const limited = await request(api.url, 'GET', '/v1/api-keys', { apiKey });
      expect(limited.status).toBe(429);
      expect(limited.body).toMatchObject({ error: 'RATE_LIMITED' });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

      const other = await api.createTenant();
      expect((await request(api.url, 'GET', '/v1/api-keys', { apiKey: other.apiKey })).status).toBe(200);
    });
  });
});
