import { Client } from 'pg';
import { TcpProxy } from './tcp-proxy';

describe('TcpProxy', () => {
  let proxy: TcpProxy;

  beforeEach(async () => {
    proxy = await TcpProxy.start(5432);
  });

  afterEach(async () => {
    await proxy.close();
  });

  const query = async () => {
    const client = new Client({
      connectionString: proxy.wrapUrl('postgres://postgres@127.0.0.1:5432/postgres'),
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.query<{ one: number }>('SELECT 1 AS one')).rows[0].one;
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  it('should forward connections to the target', async () => {
    expect(await query()).toBe(1);
  });

  it('should cut open connections and refuse new ones while paused, on the same port after resume', async () => {
    const open = new Client({
      connectionString: proxy.wrapUrl('postgres://postgres@127.0.0.1:5432/postgres'),
    });
    const lost = new Promise<void>((resolve) => open.on('error', () => resolve()));
    await open.connect();
    const port = proxy.port;

    await proxy.pause();
    await lost;
    await expect(query()).rejects.toThrow(/ECONNREFUSED/);

    await proxy.resume();
    expect(proxy.port).toBe(port);
    expect(await query()).toBe(1);
    await open.end().catch(() => undefined);
  });
});
