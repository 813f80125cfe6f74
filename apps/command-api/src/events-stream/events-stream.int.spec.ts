import { randomUUID } from 'node:crypto';
import { connect, Server, Socket } from 'node:net';
import type { EventEnvelope, RunFinished } from '@cronicorn/events';
import { EventStore, LOG_START, PostgresEventStore } from '@cronicorn/event-store';
import { EVENT_STORE } from '@cronicorn/platform';
import { startApi, TestApi } from '../../test/harness';
import { request } from '../../test/http';
import { EVENTS_STREAM_OPTIONS, EventsStreamOptions } from './events-stream.options';
import { EventsStreamService } from './events-stream.service';

interface Frame {
  id?: string;
  event?: string;
  data?: string;
}

/** A minimal EventSource over fetch: records frames and comments as they arrive. */
class SseClient {
  readonly frames: Frame[] = [];
  readonly comments: string[] = [];
  /** What EventSource sends as `Last-Event-ID` when it reconnects: the last `id:` field seen. */
  lastEventId: string | undefined;
  private readonly controller = new AbortController();
  private buffer = '';
  private reading: Promise<void> = Promise.resolve();
  /** The server ended the response. */
  endedByServer = false;

  /** The JSON body of an answer other than 200. */
  refusal: unknown;

  private constructor(
    readonly status: number,
    readonly headers: Headers,
  ) {}

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const probe = new AbortController();
    const res = await fetch(url, { headers, signal: probe.signal });
    const client = new SseClient(res.status, res.headers);
    client.controller.signal.addEventListener('abort', () => probe.abort());
    if (res.status !== 200 || !res.body) {
      const text = await res.text();
      client.refusal = text ? JSON.parse(text) : null;
      return client;
    }
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    client.reading = client.pump(res.body);
    return client;
  }

  get events(): Array<Frame & { envelope: EventEnvelope }> {
    return this.frames
      .filter((f) => f.data !== undefined)
      .map((f) => ({ ...f, envelope: JSON.parse(f.data as string) as EventEnvelope }));
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.reading;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) {
        this.buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          this.parse(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
        }
      }
      this.endedByServer = true;
    } catch {
      // aborted by close()
    }
  }

  private parse(block: string): void {
    const frame: Frame = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('id: ')) frame.id = this.lastEventId = line.slice(4);
      else if (line.startsWith('event: ')) frame.event = line.slice(7);
      else if (line.startsWith('data: ')) frame.data = line.slice(6);
    }
    if (frame.id !== undefined || frame.data !== undefined) this.frames.push(frame);
  }
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Holds the next `headCheckpoint` (where a stream without a position starts) until `release`
 * is called, after running `meanwhile`: something that happens while the request is between
 * authentication and its first read.
 */
function holdNextStartingPoint(api: TestApi, meanwhile: () => Promise<void> = async () => undefined) {
  const store = api.app.get<EventStore>(EVENT_STORE);
  const headCheckpoint = store.headCheckpoint.bind(store);
  let arrived: () => void = () => undefined;
  let release: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const spy = jest.spyOn(store, 'headCheckpoint').mockImplementationOnce(async () => {
    arrived();
    await meanwhile();
    await released;
    return headCheckpoint();
  });
  return { reached, release, restore: () => spy.mockRestore() };
}

/**
 * The server's end of the connections it accepts from now on. (Counting the server's
 * connections instead races with earlier tests' keep-alive connections timing out.)
 */
function acceptedConnections(api: TestApi): { sockets: Socket[]; stop: () => void } {
  const server = api.app.getHttpServer() as Server;
  const sockets: Socket[] = [];
  const onConnection = (socket: Socket) => sockets.push(socket);
  server.on('connection', onConnection);
  return { sockets, stop: () => server.off('connection', onConnection) };
}

describe('GET /v1/events/stream (Server-Sent Events)', () => {
  let api: TestApi;
  let store: PostgresEventStore;
  let a: { tenantId: string; apiKey: string };
  let b: { tenantId: string; apiKey: string };
  const clients: SseClient[] = [];

  const open = async (query: string, apiKey: string, headers: Record<string, string> = {}) => {
    const client = await SseClient.open(`${api.url}/v1/events/stream${query}`, {
      'x-api-key': apiKey,
      ...headers,
    });
    clients.push(client);
    return client;
  };

  /** Appends a RunFinished on a new run stream of the tenant; returns its envelope. */
  const runFinished = async (tenantId: string): Promise<EventEnvelope> => {
    const runId = randomUUID();
    const event: RunFinished = {
      type: 'RunFinished',
      data: {
        runId,
        endpointId: randomUUID(),
        jobId: randomUUID(),
        status: 'success',
        httpStatus: 200,
        durationMs: 12,
        attempts: 1,
        error: null,
        response: null,
        retryAfterMs: null,
        scheduledFor: '2025-03-10T12:00:00.000Z',
        startedAt: '2025-03-10T12:00:00.010Z',
        finishedAt: '2025-03-10T12:00:00.022Z',
        trigger: 'schedule',
        retryOf: null,
      },
    };
    const result = await store.append(`run-${runId}`, [event], {
      expectedVersion: 0,
      metadata: { tenantId },
    });
    return result.envelopes[0];
  };

  /** A RunFinished whose envelope is about `bytes` long. */
  const bigRunFinished = async (tenantId: string, bytes: number) => {
    const runId = randomUUID();
    await store.append(
      `run-${runId}`,
      [{ type: 'RunFinished', data: { runId, error: 'x'.repeat(bytes) } } as unknown as RunFinished],
      { expectedVersion: 0, metadata: { tenantId } },
    );
  };

  beforeAll(async () => {
    api = await startApi();
    store = new PostgresEventStore(api.db.pool);
    a = await api.createTenant('Tail A');
    b = await api.createTenant('Tail B');
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await api?.close();
  });

  it('should send the tenant events after a position, then new ones, and resume from Last-Event-ID without gaps or repeats', async () => {
    const start = await runFinished(a.tenantId);
    const before = [
      await runFinished(a.tenantId),
      await runFinished(b.tenantId),
      await runFinished(a.tenantId),
    ];

    const first = await open(`?after=${start.position}`, a.apiKey);
    expect(first.status).toBe(200);
    await waitFor('the existing events', () => first.events.length >= 2);

    const live = [
      await runFinished(a.tenantId),
      await runFinished(b.tenantId),
      await runFinished(a.tenantId),
    ];
    await waitFor('the new events', () => first.events.length >= 4);
    await first.close();
    const service = api.app.get(EventsStreamService);
    await waitFor('the server to close the stream', () => service.openStreams === 0);

    const missed = [await runFinished(a.tenantId), await runFinished(a.tenantId)];
    const lastSeen = first.events[first.events.length - 1].id as string;
    // The header wins over `after`, as for an EventSource reconnecting to its original URL.
    const second = await open(`?after=${start.position}`, a.apiKey, { 'Last-Event-ID': lastSeen });
    await waitFor('the missed events', () => second.events.length >= 2);
    const later = await runFinished(a.tenantId);
    await waitFor('the event after reconnecting', () => second.events.length >= 3);

    const expected = [...before, ...live, ...missed, later].filter((e) => e.tenantId === a.tenantId);
    const received = [...first.events, ...second.events];
    expect(received.map((f) => f.id)).toEqual(expected.map((e) => e.position));
    expect(received.map((f) => f.event)).toEqual(expected.map(() => 'RunFinished'));
    expect(received.map((f) => f.envelope)).toEqual(expected.map((e) => JSON.parse(JSON.stringify(e))));
    expect(received.every((f) => f.envelope.tenantId === a.tenantId)).toBe(true);

    // The same events, in the same order, as the commit-ordered log says.
    const from = await store.checkpointOfPosition(start.position);
    const { events: log } = await store.readAll(from ?? LOG_START, { tenantId: a.tenantId });
    expect(received.map((f) => f.envelope.id)).toEqual(log.map((e) => e.id));
  });

  it('should send only new events when no position is given', async () => {
    const older = await runFinished(a.tenantId);
    // The stream starts at the end of the readable log (below the oldest open transaction).
    await waitFor('the older event to be readable', async () => {
      const { events } = await store.readAll(LOG_START, { tenantId: a.tenantId, limit: 10_000 });
      return events.some((e) => e.id === older.id);
    });
    const client = await open('', a.apiKey);
    await waitFor('the stream to open', () => client.comments.includes('connected'));
    const fresh = await runFinished(a.tenantId);
    await waitFor('the new event', () => client.events.length >= 1);
    expect(client.events.map((f) => f.id)).toEqual([fresh.position]);
    await client.close();
  });

  it('should let tenant B see only its own events from the start of the log', async () => {
    const mine = await runFinished(b.tenantId);
    const client = await open('?after=0', b.apiKey);
    await waitFor('B\u2019s run event', () => client.events.some((f) => f.envelope.id === mine.id));
    expect(client.events.every((f) => f.envelope.tenantId === b.tenantId)).toBe(true);
    expect(client.events.map((f) => f.event)).toContain('TenantCreated');
    await client.close();
  });

  it('should resume without a gap when a stream that has sent no event yet reconnects', async () => {
    const service = api.app.get(EventsStreamService);
    const othersOpen = service.openStreams;
    const client = await open('', a.apiKey);
    await waitFor('the stream to open', () => client.comments.includes('connected'));
    await client.close();
    await waitFor('the server to close the stream', () => service.openStreams === othersOpen);

    // Commits while the client is away (a replica restart, a proxy timeout).
    const missed = await runFinished(a.tenantId);
    // Reconnect as EventSource does: same URL, Last-Event-ID only if an id was received.
    const headers: Record<string, string> =
      client.lastEventId === undefined ? {} : { 'Last-Event-ID': client.lastEventId };
    const again = await open('', a.apiKey, headers);
    await waitFor('the stream to open again', () => again.comments.includes('connected'));
    const after = await runFinished(a.tenantId);
    await waitFor('the event after reconnecting', () => again.events.some((f) => f.envelope.id === after.id));
    expect(again.events.map((f) => f.envelope.id)).toEqual([missed.id, after.id]);
    await again.close();
  });

  it('should end the stream of an API key when the key is revoked', async () => {
    const issued = await request<{ keyId: string; apiKey: string }>(api.url, 'POST', '/v1/api-keys', {
      apiKey: a.apiKey,
      body: { name: 'dashboard' },
    });
    expect(issued.status).toBe(201);
    const client = await open('', issued.body.apiKey);
    await waitFor('the stream to open', () => client.comments.includes('connected'));

    const revoked = await request(api.url, 'DELETE', `/v1/api-keys/${issued.body.keyId}`, {
      apiKey: a.apiKey,
    });
    expect(revoked.status).toBeLessThan(300);
    await waitFor('the server to end the stream', () => client.endedByServer);
    expect(client.events.map((f) => f.event)).toEqual(['ApiKeyRevoked']);
    expect((await open('', issued.body.apiKey)).status).toBe(401);
  });

  /** A tenant with more events than the socket buffers hold, and a client that stops reading. */
  let slowTenant: { tenantId: string; apiKey: string } | undefined;
  const openSlowReader = async (): Promise<{ socket: Socket; closed: Promise<void> }> => {
    if (!slowTenant) {
      slowTenant = await api.createTenant('Tail C');
      for (let i = 0; i < 40; i++) await bigRunFinished(slowTenant.tenantId, 1_000_000);
    }
    const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(
      `GET /v1/events/stream?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${slowTenant.apiKey}\r\n\r\n`,
    );
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.pause(); // never reads again
    return { socket, closed };
  };

  it('should disconnect a client that stopped reading', async () => {
    const service = api.app.get(EventsStreamService);
    const options = api.app.get<EventsStreamOptions>(EVENTS_STREAM_OPTIONS);
    const stallTimeoutMs = options.stallTimeoutMs;
    options.stallTimeoutMs = 1_000;
    const othersOpen = service.openStreams;
    const { socket, closed } = await openSlowReader();
    try {
      await waitFor('the stream to open', () => service.openStreams === othersOpen + 1);
      await waitFor('the server to drop the stream', () => service.openStreams === othersOpen);
      socket.resume();
      await closed;
    } finally {
      options.stallTimeoutMs = stallTimeoutMs;
      socket.destroy();
    }
  });

  it('should end a stream whose client stopped reading when the app shuts down', async () => {
    const service = api.app.get(EventsStreamService);
    const othersOpen = service.openStreams;
    const { socket, closed } = await openSlowReader();
    try {
      await waitFor('the stream to open', () => service.openStreams === othersOpen + 1);
      await new Promise((resolve) => setTimeout(resolve, 1_000));

      const shutdown = service.beforeApplicationShutdown().then(() => 'ended');
      const timeout = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000));
      expect(await Promise.race([shutdown, timeout])).toBe('ended');
      expect(service.openStreams).toBe(0);
      socket.resume(); // the server dropped the connection: what it had sent, then the end
      await closed;
    } finally {
      socket.destroy();
    }
  });

  it.each([
    ['a position that is not digits', '?after=abc', {}],
    ['a position of no event', '?after=999999999999', {}],
    ['a Last-Event-ID that is not a position', '', { 'Last-Event-ID': 'nope' }],
  ])('should answer 400 for %s', async (_name, query, headers) => {
    const client = await open(query, a.apiKey, headers);
    expect(client.status).toBe(400);
  });

  it('should answer 400 naming the field for a filter the stream does not have', async () => {
    const res = await request<{ fields?: Record<string, string> }>(
      api.url,
      'GET',
      '/v1/events/stream?type=RunFinished',
      { apiKey: a.apiKey },
    );
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.fields ?? {})).toEqual(['type']);
  });

  it('should not start a stream for a client that left while it was being opened', async () => {
    const service = api.app.get(EventsStreamService);
    const othersOpen = service.openStreams;
    const accepted = acceptedConnections(api);
    const held = holdNextStartingPoint(api);
    const serve = service.serve.bind(service);
    let served: () => void = () => undefined;
    const handedOver = new Promise<void>((resolve) => (served = resolve));
    const serveSpy = jest.spyOn(service, 'serve').mockImplementationOnce((...args) => {
      const serving = serve(...args);
      served();
      return serving;
    });
    const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
    socket.on('error', () => undefined);
    try {
      socket.write(`GET /v1/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${a.apiKey}\r\n\r\n`);
      await held.reached;
      const serverSide = accepted.sockets.find((s) => s.remotePort === socket.localPort);
      expect(serverSide).toBeDefined();
      socket.destroy();
      await waitFor('the server to see the client leave', async () => serverSide!.destroyed);
      held.release();
      await handedOver;
      expect(service.openStreams).toBe(othersOpen);
    } finally {
      accepted.stop();
      held.release();
      held.restore();
      serveSpy.mockRestore();
      socket.destroy();
    }
  });

  it('should not stream with a key revoked while the stream was being opened', async () => {
    const issued = await request<{ keyId: string; apiKey: string }>(api.url, 'POST', '/v1/api-keys', {
      apiKey: a.apiKey,
      body: { name: 'revoked while connecting' },
    });
    expect(issued.status).toBe(201);
    const held = holdNextStartingPoint(api, async () => {
      const revoked = await request(api.url, 'DELETE', `/v1/api-keys/${issued.body.keyId}`, {
        apiKey: a.apiKey,
      });
      expect(revoked.status).toBeLessThan(300);
    });
    try {
      const opening = open('', issued.body.apiKey);
      await held.reached;
      held.release();
      const client = await opening;
      expect(client.status).toBe(401);
    } finally {
      held.release();
      held.restore();
    }
  });

  it('should answer 401 without a tenant key', async () => {
    expect((await open('', 'ck_live_wrong')).status).toBe(401);
    expect((await open('', api.adminKey)).status).toBe(401);
  });
});

describe('GET /v1/events/stream with API_MAX_STREAMS_PER_TENANT=2', () => {
  let api: TestApi;
  let service: EventsStreamService;
  let a: { tenantId: string; apiKey: string };
  let b: { tenantId: string; apiKey: string };
  const clients: SseClient[] = [];

  /** Opens a stream and, when it is accepted, waits until the server counts it. */
  const open = async (apiKey: string) => {
    const before = service.openStreams;
    const client = await SseClient.open(`${api.url}/v1/events/stream`, { 'x-api-key': apiKey });
    clients.push(client);
    if (client.status === 200) await waitFor('the stream to open', () => service.openStreams === before + 1);
    return client;
  };

  const close = async (client: SseClient) => {
    const before = service.openStreams;
    await client.close();
    await waitFor('the server to close the stream', () => service.openStreams === before - 1);
  };

  beforeAll(async () => {
    api = await startApi({ env: { API_MAX_STREAMS_PER_TENANT: '2' } });
    service = api.app.get(EventsStreamService);
    a = await api.createTenant('Capped A');
    b = await api.createTenant('Capped B');
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await waitFor('every stream to close', () => service.openStreams === 0);
  });

  afterAll(async () => {
    await api?.close();
  });

  it('should answer 429 naming the limit to a tenant at its cap, while another tenant can still open one', async () => {
    expect((await open(a.apiKey)).status).toBe(200);
    expect((await open(a.apiKey)).status).toBe(200);

    const refused = await open(a.apiKey);
    expect(refused.status).toBe(429);
    expect(refused.refusal).toEqual({
      error: 'TOO_MANY_STREAMS',
      message: expect.stringContaining('At most 2 event streams'),
    });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(service.openStreams).toBe(2);

    expect((await open(b.apiKey)).status).toBe(200);
  });

  it('should document the 429 of the stream limit', async () => {
    const docs = await request<{
      paths: Record<string, { get: { responses: Record<string, { description: string }> } }>;
    }>(api.url, 'GET', '/docs-json');
    expect(docs.body.paths['/v1/events/stream'].get.responses['429'].description).toContain(
      'TOO_MANY_STREAMS',
    );
  });

  it('should let a new stream open once one is closed', async () => {
    const first = await open(a.apiKey);
    await open(a.apiKey);
    await close(first);
    expect((await open(a.apiKey)).status).toBe(200);
    expect((await open(a.apiKey)).status).toBe(429);
  });

  it('should free the slot of a stream ended by its key\u2019s revocation', async () => {
    const issued = await request<{ keyId: string; apiKey: string }>(api.url, 'POST', '/v1/api-keys', {
      apiKey: a.apiKey,
      body: { name: 'revoked while streaming' },
    });
    expect(issued.status).toBe(201);
    const revokedStream = await open(issued.body.apiKey);
    await open(a.apiKey);
    expect((await open(a.apiKey)).status).toBe(429);

    const revoked = await request(api.url, 'DELETE', `/v1/api-keys/${issued.body.keyId}`, {
      apiKey: a.apiKey,
    });
    expect(revoked.status).toBeLessThan(300);
    await waitFor('the server to end the stream', () => revokedStream.endedByServer);
    expect((await open(a.apiKey)).status).toBe(200);
  });
});

describe('GET /v1/events/stream while command-api shuts down', () => {
  it('should not keep a stream that was being opened when shutdown began, so the shutdown ends', async () => {
    const api = await startApi();
    const tenant = await api.createTenant('Tail shutdown');
    const service = api.app.get(EventsStreamService);
    const held = holdNextStartingPoint(api);
    const endStreams = service.beforeApplicationShutdown.bind(service);
    jest.spyOn(service, 'beforeApplicationShutdown').mockImplementationOnce(async () => {
      await endStreams();
      held.release();
    });
    const answer = fetch(`${api.url}/v1/events/stream`, { headers: { 'x-api-key': tenant.apiKey } }).then(
      async (res) => ({ status: res.status, body: await res.text() }),
    );
    answer.catch(() => undefined);
    await held.reached;

    const closing = api.close().then(() => 'closed');
    const stuck = new Promise((resolve) => setTimeout(() => resolve('still closing'), 10_000));
    try {
      expect(await Promise.race([closing, stuck])).toBe('closed');
      // Ended like the streams open before: the client reconnects from where it started.
      const { status, body } = await answer;
      expect(status).toBe(200);
      expect(body).toMatch(/^retry: \d+\n\nid: \d+\n\n: connected\n\n$/);
    } finally {
      api.app.getHttpServer().closeAllConnections();
      await closing;
    }
  });
});
