import { AddressInfo, createServer, Server, Socket, connect } from 'node:net';

/**
 * A TCP forwarder on 127.0.0.1 (random port) to simulate a dependency going away: `pause()`
 * cuts every open connection and refuses new ones until `resume()`; `freeze()` keeps them open
 * but lets no byte through either way, as a host that vanished (power loss, partition) would.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly pairs: Array<[Socket, Socket]> = [];
  private paused = false;
  private frozen = false;
  private listenPort = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Starts a proxy to `targetHost:targetPort`; `port` is known once this resolves. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await proxy.listen();
    return proxy;
  }

  get port(): number {
    return this.listenPort;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Rewrites host and port of a URL (postgres://, nats://, http://) to go through the proxy. */
  wrapUrl(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.listenPort);
    return parsed.toString();
  }

  /** Closes current connections and stops listening, so new connections are refused. */
  async pause(): Promise<void> {
    this.paused = true;
    this.destroySockets();
    await this.closeServer();
  }

  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    await this.listen();
  }

  /** From now on nothing passes, and the connections stay open until `close()`. */
  freeze(): void {
    this.frozen = true;
    for (const [client, upstream] of this.pairs.splice(0)) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      // Read on and drop: a paused socket would never see its peer close, nor pass that on.
      client.on('data', discard).resume();
      upstream.on('data', discard).resume();
    }
  }

  async close(): Promise<void> {
    this.paused = true;
    this.destroySockets();
    await this.closeServer();
  }

  private listen(): Promise<void> {
    const server = createServer((client) => this.forward(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // Keep the same port across pause/resume so clients can reconnect to the same URL.
      server.listen(this.listenPort, '127.0.0.1', () => {
        server.off('error', reject);
        this.listenPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private forward(client: Socket): void {
    if (this.paused) {
      client.destroy();
      return;
    }
    if (this.frozen) {
      this.sockets.add(client);
      client.on('data', discard).on('error', () => client.destroy());
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const pair: [Socket, Socket] = [client, upstream];
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      const index = this.pairs.indexOf(pair);
      if (index >= 0) this.pairs.splice(index, 1);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    this.pairs.push(pair);
  }

  private destroySockets(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private closeServer(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

const discard = (): void => undefined;
