import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';

const BODY = Buffer.from('{"ok":true}');

/**
 * The endpoints' target: keep-alive HTTP on loopback, `GET /e/<index>` answers 200 (after
 * `delayMs`) and counts the call per index. Anything else answers 404 and is counted apart.
 */
export class CountingTarget {
  /** Calls received per endpoint index. */
  readonly calls = new Map<number, number>();
  total = 0;
  unknown = 0;
  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(delayMs: number): Promise<CountingTarget> {
    let target: CountingTarget | null = null;
    const server = createServer((req, res) => {
      const match = /^\/e\/(\d+)$/.exec(req.url ?? '');
      // Drain whatever body arrives so the connection stays reusable.
      req.resume();
      if (!match || !target) {
        if (target) target.unknown += 1;
        res.writeHead(404, { 'content-length': '0' });
        res.end();
        return;
      }
      const index = Number(match[1]);
      target.total += 1;
      target.calls.set(index, (target.calls.get(index) ?? 0) + 1);
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(BODY.length) });
        res.end(BODY);
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
    // Longer than any interval the bench uses, so the dispatcher's pooled sockets stay open.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    target = new CountingTarget(server, `http://127.0.0.1:${port}`);
    return target;
  }

  url(index: number): string {
    return `${this.baseUrl}/e/${index}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
