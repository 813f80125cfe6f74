import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

/** How often `/flaky` fails. */
export const FLAKY_FAILURE_RATE = 0.4;

export interface DemoTarget {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  close(): Promise<void>;
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key']);

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}

/**
 * A small HTTP service for `npm run demo`, on loopback:
 * - `GET /health`: 200 with the uptime;
 * - `ANY /echo`: 200 with the method, headers (credentials masked by the target itself) and body;
 * - `GET /slow?ms=1500`: answers after `ms` (at most 60 s);
 * - `GET /flaky`: fails about 40 % of the time, sometimes with a 503 and `Retry-After`.
 */
export async function startDemoTarget(port = 0, random: () => number = Math.random): Promise<DemoTarget> {
  const startedAt = Date.now();
  let calls = 0;
  const server: Server = createServer((req, res) => {
    void (async () => {
      calls += 1;
      const url = new URL(req.url ?? '/', 'http://demo');
      switch (url.pathname) {
        case '/health':
          return send(res, 200, { status: 'ok', uptimeS: Math.round((Date.now() - startedAt) / 1000) });
        case '/echo': {
          const body = await readBody(req);
          const headers = Object.fromEntries(
            Object.entries(req.headers).map(([name, value]) => [
              name,
              SECRET_HEADERS.has(name) ? '(received, not shown)' : value,
            ]),
          );
          return send(res, 200, { method: req.method, path: url.pathname, headers, body, call: calls });
        }
        case '/slow': {
          const ms = Math.min(60_000, Math.max(0, Number(url.searchParams.get('ms') ?? 1500) || 0));
          setTimeout(() => send(res, 200, { sleptMs: ms }), ms);
          return;
        }
        case '/flaky': {
          const roll = random();
          if (roll < FLAKY_FAILURE_RATE / 4) {
            return send(res, 503, { error: 'overloaded, come back later' }, { 'retry-after': '5' });
          }
          if (roll < FLAKY_FAILURE_RATE) return send(res, 500, { error: 'flaky failure', roll });
          return send(res, 200, { ok: true, roll });
        }
        default:
          return send(res, 404, { error: `no route ${url.pathname}` });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
