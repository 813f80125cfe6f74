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

    it('should answer 413 to an oversized body', async () => {
      const res = await request(api.url, 'POST', '/v1/api-keys', {
        apiKey,
        body: { name: 'x'.repeat(300 * 1024) },
      });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
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
