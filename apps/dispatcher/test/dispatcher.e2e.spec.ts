import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { AddressInfo, createServer } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { DispatchWorkItem, EventEnvelope, RunFinished, RunStarted, streamIds } from '@cronicorn/events';
import { PostgresEventStore } from '@cronicorn/event-store';
import { SecretBox } from '@cronicorn/platform';
import { createTestDatabase, createTestNats, TestDatabase, TestNats } from '@cronicorn/testing';
import { TestTarget, waitFor } from './target';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '..', '..', '..');
const MAIN = resolve(ROOT, 'dist', 'apps', 'dispatcher', 'src', 'main.js');
const ACK_WAIT_MS = 2_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

/** One `node dist/apps/dispatcher/src/main.js` child with its log lines. */
class DispatcherProcess {
  readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.output.push(line));
    }
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  }

  static async start(env: NodeJS.ProcessEnv): Promise<DispatcherProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      cwd: ROOT,
      env: { ...env, DISPATCHER_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const app = new DispatcherProcess(child, port);
    await waitFor('the dispatcher to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`dispatcher exited:\n${app.output.join('\n')}`);
      return (await app.status('/readyz')) === 200;
    });
    await waitFor('the dispatcher to consume', () => app.output.some((line) => line.includes('consuming')));
    return app;
  }

  async status(path: string): Promise<number> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.text();
      return res.status;
    } catch {
      return 0;
    }
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.child.kill(signal);
    return this.exited;
  }
}

describe('dispatcher app (child processes)', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let target: TestTarget;
  let store: PostgresEventStore;
  let env: NodeJS.ProcessEnv;
  let secretBox: SecretBox;
  const apps: DispatcherProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    nats = await createTestNats();
    target = await TestTarget.start();
    store = new PostgresEventStore(db.pool);
    const secretsKey = randomBytes(32).toString('base64url');
    secretBox = SecretBox.fromSecret(secretsKey);
    env = {
      ...process.env,
      DATABASE_URL: db.url,
      NATS_URL: nats.url,
      CRONICORN_NATS_NAMESPACE: nats.names.namespace,
      SECRETS_KEY: secretsKey,
      // The target listens on loopback: allow exactly that address.
      ALLOWED_TARGET_ADDRESSES: '127.0.0.1',
      DISPATCHER_ACK_WAIT_MS: String(ACK_WAIT_MS),
      LOG_LEVEL: 'debug',
      NO_COLOR: '1',
    };
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.kill('SIGKILL')));
    await target?.close();
    await nats?.cleanup();
    await db?.drop();
  });

  async function startDispatcher(): Promise<DispatcherProcess> {
    const app = await DispatcherProcess.start(env);
    apps.push(app);
    return app;
  }

  function workItem(path: string, request: Partial<DispatchWorkItem['request']> = {}): DispatchWorkItem {
    return {
      runId: randomUUID(),
      tenantId: `tenant${randomBytes(3).toString('hex')}`,
      jobId: randomUUID(),
      endpointId: randomUUID(),
      scheduledFor: new Date().toISOString(),
      trigger: 'schedule',
      retryOf: null,
      correlationId: randomUUID(),
      request: {
        url: target.url(path),
        method: 'GET',
        headers: { 'x-run-kind': 'e2e' },
        secretHeaders: {},
        body: null,
        timeoutMs: 30_000,
        maxAttempts: 1,
        ...request,
      },
      templateContext: null,
    };
  }

  async function publish(item: DispatchWorkItem, msgID: string = item.runId): Promise<void> {
    await nats.js.publish(nats.names.dispatchSubject(item.tenantId, item.endpointId), JSON.stringify(item), {
      msgID,
    });
  }

  const runEvents = (runId: string) => store.readStream(streamIds.run(runId));
  const starts = (events: EventEnvelope[]) =>
    events.filter((event) => event.type === 'RunStarted') as EventEnvelope<RunStarted>[];
  const finishes = (events: EventEnvelope[]) =>
    events.filter((event) => event.type === 'RunFinished') as EventEnvelope<RunFinished>[];
  const queued = async () => (await nats.jsm.streams.info(nats.names.dispatchStream)).state.messages;
  const finishedOnce = async (runId: string) => finishes(await runEvents(runId)).length === 1;

  /** Every envelope the outbox relays published on this suite's events stream. */
  async function publishedEvents(): Promise<string[]> {
    const { state } = await nats.jsm.streams.info(nats.names.eventsStream);
    const out: string[] = [];
    for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
      const msg = await nats.jsm.streams.getMessage(nats.names.eventsStream, { seq });
      if (msg) out.push(msg.string());
    }
    return out;
  }

  it('turns a work item into RunStarted and RunFinished with the response snippet', async () => {
    await startDispatcher();
    const item = workItem('/echo');
    await publish(item);

    await waitFor('RunFinished', () => finishedOnce(item.runId));
    const events = await runEvents(item.runId);
    expect(events.map((event) => event.type)).toEqual(['RunStarted', 'RunFinished']);
    expect(starts(events)[0].data).toMatchObject({ attempt: 1, scheduledFor: item.scheduledFor });
    expect(finishes(events)[0].data).toMatchObject({ status: 'success', httpStatus: 200, attempts: 1 });
    expect(finishes(events)[0].data.response?.snippet).toContain('"x-run-kind":"e2e"');
    await waitFor('the queue to empty', async () => (await queued()) === 0);
  });

  it('records one RunFinished when the same work item is published twice', async () => {
    const item = workItem('/echo');
    const hitsBefore = target.hitsOf('/echo').length;
    await publish(item, `${item.runId}-first`);
    await waitFor('RunFinished', () => finishedOnce(item.runId));
    // A copy past the duplicate window: another message id, so JetStream keeps it.
    await publish(item, `${item.runId}-second`);
    await waitFor('the copy to be consumed', async () => (await queued()) === 0);

    const events = await runEvents(item.runId);
    expect(events.map((event) => event.type)).toEqual(['RunStarted', 'RunFinished']);
    expect(target.hitsOf('/echo')).toHaveLength(hitsBefore + 1);
  });

  it('keeps secret header values out of the events table, NATS and the logs, yet sends them', async () => {
    const secret = `sk_live_${randomBytes(16).toString('hex')}`;
    const item = workItem('/echo', {
      secretHeaders: { authorization: secretBox.encrypt(`Bearer ${secret}`) },
    });
    await publish(item);
    await waitFor('RunFinished', () => finishedOnce(item.runId));
    await waitFor('RunFinished on NATS', async () =>
      (await publishedEvents()).some((text) => text.includes(item.runId) && text.includes('RunFinished')),
    );

    expect(target.hitsOf('/echo').at(-1)?.headers.authorization).toBe(`Bearer ${secret}`);
    const finished = finishes(await runEvents(item.runId))[0];
    expect(finished.data.response?.snippet).toContain('[redacted]');
    const { rows } = await db.pool.query<{ text: string }>(
      'SELECT data::text || metadata::text AS text FROM events',
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((row) => row.text).join('\n')).not.toContain(secret);
    expect((await publishedEvents()).join('\n')).not.toContain(secret);
    const logs = apps.flatMap((app) => app.output);
    expect(logs.some((line) => line.includes(item.runId))).toBe(true);
    expect(logs.join('\n')).not.toContain(secret);
  });

  it('lets another dispatcher complete a run whose dispatcher was SIGKILLed mid-call, recorded once', async () => {
    const [first] = apps;
    const item = workItem('/hold');
    await publish(item);
    await waitFor('the first call', () => target.hitsOf('/hold').length === 1);
    expect(starts(await runEvents(item.runId))).toHaveLength(1);

    const second = await startDispatcher();
    await first.kill('SIGKILL');
    // The dead delivery's heartbeats stop; after the ack wait JetStream hands it to `second`.
    await waitFor('the second call', () => target.hitsOf('/hold').length === 2, 30_000);
    target.release();
    await waitFor('RunFinished', () => finishedOnce(item.runId));
    await waitFor('the queue to empty', async () => (await queued()) === 0);

    const events = await runEvents(item.runId);
    expect(events.map((event) => event.type)).toEqual(['RunStarted', 'RunStarted', 'RunFinished']);
    const [dead, takeover] = starts(events).map((event) => event.data);
    expect(dead.attempt).toBe(1);
    expect(takeover.attempt).toBe(2);
    expect(takeover.dispatcherId).not.toBe(dead.dispatcherId);
    expect(takeover.dispatcherId).toContain(`:${second.child.pid}:`);
    expect(finishes(events)[0].data).toMatchObject({ status: 'success', startedAt: takeover.startedAt });
  });

  it('finishes the call in flight on SIGTERM before it exits', async () => {
    const app = apps.find((candidate) => candidate.alive);
    if (!app) throw new Error('no dispatcher running');
    const item = workItem('/slow', { url: target.url('/slow?ms=1500') });
    const hitsBefore = target.hitsOf('/slow').length;
    await publish(item);
    await waitFor('the slow call', () => target.hitsOf('/slow').length === hitsBefore + 1);

    const exit = await app.kill('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    const events = await runEvents(item.runId);
    expect(events.map((event) => event.type)).toEqual(['RunStarted', 'RunFinished']);
    expect(finishes(events)[0].data.status).toBe('success');
    expect(await queued()).toBe(0);
  });
});
