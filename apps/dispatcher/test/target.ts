import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';

/** One request the target received. */
export interface Hit {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * An HTTP target on 127.0.0.1 for dispatcher tests. Routes: `/echo` answers 200 with the
 * request's headers as JSON; `/slow?ms=` answers after a delay; `/hold` answers only when the
 * test calls `release()`; `/fail` answers 500. Every request is recorded before it is answered.
 */
export class TestTarget {
  readonly hits: Hit[] = [];
  private releaseHeld: Array<() => void> = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<TestTarget> {
    let target: TestTarget | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://target');
        target?.hits.push({
          method: req.method ?? 'GET',
          path: url.pathname,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const json = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        switch (url.pathname) {
          case '/echo':
            return json(200, { ok: true, headers: req.headers });
          case '/slow':
            return void setTimeout(
              () => json(200, { slept: true }),
              Number(url.searchParams.get('ms') ?? 1000),
            );
          case '/hold':
            return void target?.releaseHeld.push(() => json(200, { held: true }));
          case '/fail':
            return json(500, { error: 'boom' });
          default:
            return json(404, { error: 'not found' });
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    target = new TestTarget(server);
    return target;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  hitsOf(path: string): Hit[] {
    return this.hits.filter((hit) => hit.path === path);
  }

  /** Answers every request held on `/hold` so far. */
  release(): void {
    const held = this.releaseHeld;
    this.releaseHeld = [];
    held.forEach((answer) => answer());
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
