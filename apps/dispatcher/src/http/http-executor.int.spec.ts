import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { SecretBox } from '@cronicorn/platform';
import { AttemptReport, HttpExecutor, HttpRequestSpec } from './http-executor';
import { TargetGuard, TargetPolicy } from './target-guard';

// Real HTTP servers on loopback only. Addresses outside loopback (10.0.0.1, 169.254.169.254)
// appear only in tests that prove they are refused before any socket exists.

interface TestServer {
  url: string;
  port: number;
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  connections: number;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

const servers: TestServer[] = [];
const executors: HttpExecutor[] = [];

async function startServer(handler: Handler, host = '127.0.0.1'): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      state.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const state: TestServer = {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    requests: [],
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(state);
  return state;
}

function executor(policy: TargetPolicy = { allowPrivateTargets: false, allowedAddresses: ['127.0.0.1'] }) {
  const created = new HttpExecutor(new TargetGuard(policy), { backoff: { baseMs: 5, maxMs: 20 } });
  executors.push(created);
  return created;
}

function request(url: string, overrides: Partial<HttpRequestSpec> = {}): HttpRequestSpec {
  return {
    url,
    method: 'GET',
    headers: {},
    secretHeaders: {},
    body: null,
    timeoutMs: 5_000,
    maxAttempts: 1,
    ...overrides,
  };
}

/** Hosts of every socket connect made while `spy` was active. */
function connectedHosts(spy: jest.SpyInstance): unknown[] {
  return spy.mock.calls.map(([first]) => {
    const options: unknown = Array.isArray(first) ? first[0] : first;
    return typeof options === 'object' && options !== null && 'host' in options ? options.host : options;
  });
}

const originalConnect = net.Socket.prototype.connect;
const isLoopback = (host: unknown) =>
  host === undefined ||
  (typeof host === 'string' && /^(127\.|::1$|localhost$|pinned\.test$|::ffff:127\.)/.test(host));

// A fence around the whole file: even with a broken guard, no packet leaves loopback.
beforeEach(() => {
  jest.spyOn(net.Socket.prototype, 'connect').mockImplementation(function (
    this: net.Socket,
    ...args: unknown[]
  ) {
    const [host] = connectedHosts({ mock: { calls: [args] } } as unknown as jest.SpyInstance);
    if (typeof args[0] === 'object' && args[0] !== null && !isLoopback(host)) {
      throw new Error(`test fence: refused a connection to ${String(host)}`);
    }
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  });
});

afterEach(async () => {
  executors.splice(0).forEach((created) => created.close());
  await Promise.all(servers.splice(0).map((server) => server.close()));
  jest.restoreAllMocks();
});

describe('HttpExecutor', () => {
  describe('When the target answers', () => {
    it('should retry once on a fresh connection when a kept-alive socket was closed by the target', async () => {
      const served = new WeakMap<object, number>();
      const target = await startServer((req, res) => {
        const before = served.get(req.socket) ?? 0;
        served.set(req.socket, before + 1);
        if (before > 0) return void req.socket.destroy();
        res.end('fresh');
      });
      const run = executor();

      const first = await run.execute(request(target.url, { maxAttempts: 1 }));
      const second = await run.execute(request(target.url, { maxAttempts: 1 }));

      expect(first).toMatchObject({ status: 'success', attempts: 1 });
      expect(second).toMatchObject({ status: 'success', attempts: 1, response: { snippet: 'fresh' } });
    });

    it('should send method, JSON body, headers and decrypted secret headers and capture the response', async () => {
      const target = await startServer((req, res, body) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, headers: req.headers, body: JSON.parse(body) }));
      });
      const box = SecretBox.fromSecret('int-test-key');
      const stored = box.encryptValues({ Authorization: 'Bearer top-secret', 'X-Api-Key': 'k-123' });

      const outcome = await executor().execute(
        request(`${target.url}/hook?x=1`, {
          method: 'POST',
          headers: { 'X-Plain': 'visible' },
          secretHeaders: box.decryptValues(stored),
          body: { event: 'tick', n: [1, 2] },
        }),
      );

      expect(outcome).toMatchObject({
        status: 'success',
        httpStatus: 200,
        attempts: 1,
        error: null,
        retryAfterMs: null,
      });
      expect(outcome.response).toMatchObject({ truncated: false, contentType: 'application/json' });
      const echoed = JSON.parse(outcome.response?.snippet ?? '');
      expect(echoed.method).toBe('POST');
      expect(echoed.body).toEqual({ event: 'tick', n: [1, 2] });
      // The secrets reach the target; the echo of them kept in the snippet is redacted.
      expect(target.requests[0].headers).toMatchObject({
        authorization: 'Bearer top-secret',
        'x-api-key': 'k-123',
        'x-plain': 'visible',
        'content-type': 'application/json',
      });
      expect(echoed.headers).toMatchObject({
        authorization: '[redacted]',
        'x-api-key': '[redacted]',
        'x-plain': 'visible',
      });
      expect(outcome.response?.snippet).toContain('"method":"POST"');
      expect(outcome.response?.bytes).toBe(
        Buffer.byteLength(JSON.stringify({ ...echoed, headers: target.requests[0].headers })),
      );
      expect(target.requests[0].url).toBe('/hook?x=1');
    });

    it('should send a string body as it is', async () => {
      const target = await startServer((_req, res) => res.end('ok'));

      const outcome = await executor().execute(
        request(target.url, { method: 'PUT', body: 'not {json', headers: { 'Content-Type': 'text/csv' } }),
      );

      expect(outcome.status).toBe('success');
      expect(target.requests[0]).toMatchObject({ method: 'PUT', body: 'not {json' });
      expect(target.requests[0].headers['content-type']).toBe('text/csv');
      expect(outcome.response).toMatchObject({ snippet: 'ok', bytes: 2, contentType: null });
    });
  });

  describe('When the configured headers name the framing or the connection', () => {
    it('should frame the body itself, so that a Content-Length cannot smuggle a request onto a pooled connection', async () => {
      const target = await startServer((req, res) => res.end(`answer to ${req.url}`));
      const run = executor();
      // Bytes past the declared length stay on the kept-alive socket and become the start of
      // the next request on it, which may be another tenant's: its headers would be this body.
      const smuggled = 'POST /capture HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n';
      const body = `ab${smuggled}`;

      const first = await run.execute(
        request(`${target.url}/a`, { method: 'POST', body, headers: { 'Content-Length': '2' } }),
      );
      const second = await run.execute(
        request(`${target.url}/b`, { secretHeaders: { authorization: 'Bearer another-tenant' } }),
      );

      expect(first).toMatchObject({ status: 'success', response: { snippet: 'answer to /a' } });
      expect(second).toMatchObject({ status: 'success', response: { snippet: 'answer to /b' } });
      expect(target.requests.map((r) => [r.method, r.url, r.body])).toEqual([
        ['POST', '/a', body],
        ['GET', '/b', ''],
      ]);
      expect(target.requests[0].headers['content-length']).toBe(String(body.length));
    });

    it.each([
      [{ 'Transfer-Encoding': 'chunked' }],
      [{ 'transfer-encoding': 'identity', 'content-length': '1' }],
      [{ Connection: 'close, Upgrade', Upgrade: 'h2c' }],
      [{ 'Keep-Alive': 'timeout=1', TE: 'trailers', Trailer: 'x-sum' }],
    ])('should send the body with its own framing when the headers say %j', async (headers) => {
      const target = await startServer((_req, res, body) => res.end(`got ${body}`));

      const outcome = await executor().execute(
        request(target.url, { method: 'POST', body: 'hello', headers }),
      );

      expect(outcome).toMatchObject({
        status: 'success',
        httpStatus: 200,
        response: { snippet: 'got hello' },
      });
      expect(target.requests[0].headers).toMatchObject({ 'content-length': '5' });
      for (const name of ['transfer-encoding', 'upgrade', 'keep-alive', 'te', 'trailer']) {
        expect(target.requests[0].headers).not.toHaveProperty(name);
      }
    });
  });

  describe('When the target fails', () => {
    it('should retry a 500 within maxAttempts and succeed', async () => {
      const target = await startServer((_req, res) => {
        res.statusCode = target.requests.length === 1 ? 500 : 200;
        res.end(res.statusCode === 500 ? 'boom' : 'fine');
      });
      const reports: AttemptReport[] = [];

      const outcome = await executor().execute(request(target.url, { maxAttempts: 3 }), {
        onAttempt: (report) => reports.push(report),
      });

      expect(outcome).toMatchObject({ status: 'success', httpStatus: 200, attempts: 2, error: null });
      expect(outcome.response?.snippet).toBe('fine');
      expect(reports.map((r) => [r.attempt, r.status, r.httpStatus, r.error])).toEqual([
        [1, 'failed', 500, 'HTTP 500'],
        [2, 'success', 200, null],
      ]);
      expect(reports[0].retryInMs).toBeGreaterThan(0);
      expect(reports[1].retryInMs).toBeNull();
    });

    it('should stop after maxAttempts and report the last response', async () => {
      const target = await startServer((_req, res) => {
        res.statusCode = 502;
        res.end('bad gateway');
      });

      const outcome = await executor().execute(request(target.url, { maxAttempts: 3 }));

      expect(outcome).toMatchObject({ status: 'failed', httpStatus: 502, attempts: 3, error: 'HTTP 502' });
      expect(outcome.response?.snippet).toBe('bad gateway');
      expect(target.requests).toHaveLength(3);
    });

    it('should not retry a 404', async () => {
      const target = await startServer((_req, res) => {
        res.statusCode = 404;
        res.end();
      });

      const outcome = await executor().execute(request(target.url, { maxAttempts: 3 }));

      expect(outcome).toMatchObject({ status: 'failed', httpStatus: 404, attempts: 1, error: 'HTTP 404' });
      expect(target.requests).toHaveLength(1);
    });

    it('should capture a long Retry-After on a 429 and stop retrying', async () => {
      const target = await startServer((_req, res) => {
        res.writeHead(429, { 'retry-after': '120' });
        res.end('slow down');
      });

      const outcome = await executor().execute(request(target.url, { maxAttempts: 3 }));

      expect(outcome).toMatchObject({
        status: 'failed',
        httpStatus: 429,
        attempts: 1,
        retryAfterMs: 120_000,
      });
      expect(target.requests).toHaveLength(1);
    });

    it('should read Retry-After as an HTTP date on a 503', async () => {
      const target = await startServer((_req, res) => {
        res.writeHead(503, { 'retry-after': new Date(Date.now() + 600_000).toUTCString() });
        res.end();
      });

      const outcome = await executor().execute(request(target.url, { maxAttempts: 2 }));

      expect(outcome).toMatchObject({ status: 'failed', httpStatus: 503, attempts: 1 });
      expect(outcome.retryAfterMs).toBeGreaterThan(590_000);
      expect(outcome.retryAfterMs).toBeLessThanOrEqual(600_000);
    });

    it('should honour a short Retry-After inside the run', async () => {
      const target = await startServer((_req, res) => {
        if (target.requests.length === 1) res.writeHead(429, { 'retry-after': '0' });
        res.end('done');
      });

      const outcome = await executor().execute(request(target.url, { maxAttempts: 2 }));

      expect(outcome).toMatchObject({ status: 'success', httpStatus: 200, attempts: 2, retryAfterMs: null });
    });

    it('should retry network errors and keep secret values out of the error', async () => {
      const closed = await startServer(() => undefined);
      await closed.close();
      const secret = `ECONNREFUSED 127.0.0.1:${closed.port}`; // a secret that happens to occur in the error

      const outcome = await executor().execute(
        request(closed.url, { maxAttempts: 2, secretHeaders: { 'x-token': secret } }),
      );

      expect(outcome).toMatchObject({ status: 'failed', httpStatus: null, attempts: 2, response: null });
      expect(outcome.error).toContain('[redacted]');
      expect(outcome.error).not.toContain(secret);
    });
  });

  describe('When the target is slow', () => {
    it('should time out a target that never answers after about timeoutMs', async () => {
      const target = await startServer(() => undefined);

      const outcome = await executor().execute(request(target.url, { timeoutMs: 300 }));

      expect(outcome).toMatchObject({
        status: 'timeout',
        httpStatus: null,
        attempts: 1,
        error: 'timed out after 300 ms',
      });
      expect(outcome.durationMs).toBeGreaterThanOrEqual(299);
      expect(outcome.durationMs).toBeLessThan(3_000);
      expect(target.requests).toHaveLength(1);
    });

    it('should time out a body that trickles a byte at a time and never ends', async () => {
      const target = await startServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write('.')), 20);
      });

      const outcome = await executor().execute(request(target.url, { timeoutMs: 300 }));

      expect(outcome).toMatchObject({ status: 'timeout', attempts: 1, error: 'timed out after 300 ms' });
      expect(outcome.durationMs).toBeLessThan(3_000);
    });

    it('should time out a body that never ends, and retry timeouts', async () => {
      const target = await startServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
      });

      const outcome = await executor().execute(request(target.url, { timeoutMs: 200, maxAttempts: 2 }));

      expect(outcome).toMatchObject({ status: 'timeout', httpStatus: null, attempts: 2 });
      expect(target.requests).toHaveLength(2);
    });
  });

  describe('When the response is large', () => {
    it('should stop reading a 50 MB response at the byte limit and close the connection', async () => {
      const total = 50 * 1024 * 1024;
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let written = 0;
      let serverSawClose!: () => void;
      const closedEarly = new Promise<void>((resolve) => (serverSawClose = resolve));
      const target = await startServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(total) });
        res.on('close', () => serverSawClose());
        const pump = () => {
          while (written < total && !res.destroyed) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      });
      global.gc?.();
      const heapBefore = process.memoryUsage().heapUsed;

      const outcome = await executor().execute(request(target.url));

      const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
      expect(outcome).toMatchObject({ status: 'success', httpStatus: 200 });
      expect(outcome.response).toMatchObject({ truncated: true, bytes: total, contentType: 'text/plain' });
      expect(outcome.response?.snippet).toBe('x'.repeat(4096));
      await closedEarly;
      expect(written).toBeLessThan(total);
      expect(heapGrowth).toBeLessThan(30 * 1024 * 1024);
    });

    it('should apply the byte limit to a gzip bomb as it is inflated, not after', async () => {
      const bomb = zlib.gzipSync(Buffer.alloc(256 * 1024 * 1024)); // 256 MB of zeros in ~250 KB
      const target = await startServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
        res.end(bomb);
      });
      // Inflated Buffers live outside the JS heap, hence `external` too.
      const used = () => process.memoryUsage().heapUsed + process.memoryUsage().external;
      global.gc?.();
      const before = used();

      const outcome = await executor().execute(request(target.url));

      expect(used() - before).toBeLessThan(30 * 1024 * 1024);
      expect(outcome).toMatchObject({ status: 'success', httpStatus: 200 });
      expect(outcome.response?.truncated).toBe(true);
      expect(outcome.response?.bytes).toBeLessThan(1024 * 1024);
      expect(outcome.response?.snippet).toBe('\uFFFD'.repeat(1365));
    });

    it('should count the bytes read when there is no Content-Length, cutting UTF-8 safely', async () => {
      const target = await startServer((_req, res) => {
        res.write('é'.repeat(600));
        res.end('é'.repeat(600));
      });

      const outcome = await executor().execute(request(target.url), {
        maxResponseBytes: 1001,
        snippetBytes: 501,
      });

      expect(outcome.response?.truncated).toBe(true);
      expect(outcome.response?.bytes).toBeGreaterThan(1001);
      expect(outcome.response?.bytes).toBeLessThanOrEqual(2400);
      expect(outcome.response?.snippet).toBe('é'.repeat(250));
    });
  });

  describe('When the target is not public', () => {
    const refuseAll: TargetPolicy = { allowPrivateTargets: false };

    it('should refuse 127.0.0.1 without connecting and without retrying', async () => {
      const target = await startServer((_req, res) => res.end('should not be reached'));

      const outcome = await executor(refuseAll).execute(request(target.url, { maxAttempts: 3 }));

      expect(outcome).toMatchObject({ status: 'failed', httpStatus: null, attempts: 1, response: null });
      expect(outcome.error).toBe('target refused: 127.0.0.1 is a loopback address');
      expect(target.connections).toBe(0);
    });

    it('should refuse [::1]', async () => {
      const target = await startServer((_req, res) => res.end('should not be reached'), '::1');

      const outcome = await executor(refuseAll).execute(request(target.url));

      expect(outcome.error).toBe('target refused: ::1 is a loopback address');
      expect(target.connections).toBe(0);
    });

    it.each([
      ['http://10.0.0.1/internal', 'target refused: 10.0.0.1 is a private address'],
      [
        'http://169.254.169.254/latest/meta-data/',
        'target refused: 169.254.169.254 is a cloud metadata address',
      ],
      ['http://[::ffff:169.254.169.254]/', 'target refused: ::ffff:a9fe:a9fe is a cloud metadata address'],
    ])('should refuse %s from the address alone, before any socket exists', async (url, error) => {
      const connect = jest.spyOn(net.Socket.prototype, 'connect');

      const outcome = await executor(refuseAll).execute(request(url, { maxAttempts: 3 }));

      expect(outcome).toMatchObject({ status: 'failed', attempts: 1, error });
      expect(connect).not.toHaveBeenCalled();
    });

    it('should refuse a hostname that resolves to loopback', async () => {
      const target = await startServer((_req, res) => res.end('should not be reached'));

      const outcome = await executor(refuseAll).execute(request(`http://localhost:${target.port}/`));

      expect(outcome.status).toBe('failed');
      expect(outcome.error).toMatch(/^target refused: localhost: (127\.0\.0\.1|::1) is a loopback address$/);
      expect(target.connections).toBe(0);
    });

    it('should still refuse 127.0.0.2 when only 127.0.0.1 is allowed, even through a redirect', async () => {
      const inner = await startServer((_req, res) => res.end('should not be reached'), '127.0.0.2');
      const outer = await startServer((_req, res) => {
        res.writeHead(302, { location: `${inner.url}/admin` });
        res.end();
      });

      const outcome = await executor().execute(request(outer.url, { maxAttempts: 2 }));

      expect(outcome).toMatchObject({ status: 'failed', attempts: 1, httpStatus: null });
      expect(outcome.error).toBe('target refused: 127.0.0.2 is a loopback address');
      expect(outer.requests).toHaveLength(1);
      expect(inner.connections).toBe(0);
    });

    it('should refuse a redirect to 10.0.0.1 without connecting to it', async () => {
      const outer = await startServer((_req, res) => {
        res.writeHead(307, { location: 'http://10.0.0.1/' });
        res.end();
      });
      const connect = jest.spyOn(net.Socket.prototype, 'connect');

      const outcome = await executor().execute(request(outer.url));

      expect(outcome.error).toBe('target refused: 10.0.0.1 is a private address');
      expect(connectedHosts(connect)).not.toContain('10.0.0.1');
      expect(connectedHosts(connect)).toContain('127.0.0.1');
    });
  });

  describe('When a hostname is resolved', () => {
    it('should connect to the address the guard checked', async () => {
      const target = await startServer((_req, res) => res.end('pinned'));
      // `pinned.test` exists only in this resolver: the socket can only reach the target
      // through the answer the guard checked.
      const guard = new TargetGuard(
        { allowPrivateTargets: false, allowedAddresses: ['127.0.0.1'] },
        (host, _o, cb) => cb(null, host === 'pinned.test' ? [{ address: '127.0.0.1', family: 4 }] : []),
      );
      const pinned = new HttpExecutor(guard);
      executors.push(pinned);

      const outcome = await pinned.execute(request(`http://pinned.test:${target.port}/`));

      expect(outcome).toMatchObject({ status: 'success', response: { snippet: 'pinned' } });
      expect(target.requests[0].headers.host).toBe(`pinned.test:${target.port}`);
    });
  });

  describe('When redirected', () => {
    it('should follow redirects on an allowed target', async () => {
      const target = await startServer((req, res) => {
        if (req.url === '/final') return void res.end('arrived');
        res.writeHead(301, { location: req.url === '/a' ? '/b' : '/final' });
        res.end();
      });

      const outcome = await executor().execute(request(`${target.url}/a`));

      expect(outcome).toMatchObject({ status: 'success', httpStatus: 200 });
      expect(outcome.response?.snippet).toBe('arrived');
      expect(target.requests.map((r) => r.url)).toEqual(['/a', '/b', '/final']);
    });

    it('should give up after 5 redirects', async () => {
      const target = await startServer((_req, res) => {
        res.writeHead(302, { location: `/loop${target.requests.length}` });
        res.end();
      });

      const outcome = await executor().execute(request(target.url, { maxAttempts: 3 }));

      expect(outcome).toMatchObject({ status: 'failed', attempts: 1 });
      expect(outcome.error).toMatch(/redirects/i);
      expect(target.requests).toHaveLength(6);
    });

    it('should not retry a redirect to a Location that is not a URL', async () => {
      const target = await startServer((_req, res) => {
        res.writeHead(302, { location: 'http://[::1' });
        res.end();
      });

      const outcome = await executor().execute(request(target.url, { maxAttempts: 3 }));

      expect(outcome).toMatchObject({ status: 'failed', httpStatus: null, attempts: 1 });
      expect(outcome.error).toMatch(/Invalid URL/);
      expect(target.requests).toHaveLength(1);
    });

    it('should not forward secret headers to another origin', async () => {
      const other = await startServer((_req, res) => res.end('other'), '127.0.0.2');
      const first = await startServer((_req, res) => {
        res.writeHead(302, { location: other.url });
        res.end();
      });

      const outcome = await executor({ allowPrivateTargets: true }).execute(
        request(first.url, { headers: { 'x-plain': 'p' }, secretHeaders: { 'x-api-key': 'hidden' } }),
      );

      expect(outcome.status).toBe('success');
      expect(first.requests[0].headers['x-api-key']).toBe('hidden');
      expect(other.requests[0].headers['x-plain']).toBe('p');
      expect(other.requests[0].headers['x-api-key']).toBeUndefined();
    });
  });

  describe('When private targets are allowed', () => {
    it('should call loopback targets, by address and by name', async () => {
      const target = await startServer((_req, res) => res.end('hello'));
      const allowAll = executor({ allowPrivateTargets: true });

      const byAddress = await allowAll.execute(request(target.url));
      const byName = await allowAll.execute(request(`http://localhost:${target.port}/`));

      expect(byAddress).toMatchObject({ status: 'success', httpStatus: 200, response: { snippet: 'hello' } });
      expect(byName).toMatchObject({ status: 'success', httpStatus: 200 });
    });
  });
});
