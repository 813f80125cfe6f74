import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { DispatchWorkItem, EventEnvelope, RunFinished, RunStarted, streamIds } from '@cronicorn/events';
import { PostgresEventStore } from '@cronicorn/event-store';
import { JetStreamWorker, PostgresDeadLetters, provisionConsumer, silentLogger } from '@cronicorn/messaging';
import { createPool, SecretBox } from '@cronicorn/platform';
import { createTestDatabase, createTestNats, TcpProxy, TestDatabase, TestNats } from '@cronicorn/testing';
import { TestTarget, waitFor } from '../../test/target';
import { HttpExecutor } from '../http/http-executor';
import { TargetGuard } from '../http/target-guard';
import { runStarted } from './run-delivery';
import { RunDispatcher, RunDispatcherOptions } from './run-dispatcher';
import { parseWorkItem } from './work-item';

jest.setTimeout(60_000);

const secretBox = SecretBox.fromSecret(randomBytes(32).toString('base64url'));

describe('RunDispatcher', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let target: TestTarget;
  let store: PostgresEventStore;
  let executor: HttpExecutor;
  const workers: JetStreamWorker[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    nats = await createTestNats();
    target = await TestTarget.start();
    store = new PostgresEventStore(db.pool);
    // Loopback is refused by default; the test target is allowed by address, not wholesale.
    executor = new HttpExecutor(
      new TargetGuard({ allowPrivateTargets: false, allowedAddresses: ['127.0.0.1'] }),
    );
    await provisionConsumer(nats.jsm, nats.names.dispatchStream, {
      durable: 'dispatcher',
      filterSubject: nats.names.allDispatch,
      ackWaitMs: 5_000,
      maxDeliver: 1_000,
    });
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });

  afterAll(async () => {
    executor.close();
    await target.close();
    await nats.cleanup();
    await db.drop();
  });

  function dispatcher(overrides: Partial<RunDispatcherOptions> = {}): RunDispatcher {
    return new RunDispatcher({
      store,
      executor,
      secretBox,
      isQueued: async (seq) =>
        (await nats.jsm.streams.getMessage(nats.names.dispatchStream, { seq })) !== null,
      dispatcherId: 'test:1',
      maxRunAttempts: 3,
      logger: silentLogger,
      ...overrides,
    });
  }

  function workItem(path: string, request: Partial<DispatchWorkItem['request']> = {}): DispatchWorkItem {
    return {
      runId: randomUUID(),
      tenantId: 'tenant1',
      jobId: randomUUID(),
      endpointId: randomUUID(),
      scheduledFor: new Date().toISOString(),
      trigger: 'schedule',
      retryOf: null,
      correlationId: randomUUID(),
      request: {
        url: target.url(path),
        method: 'GET',
        headers: {},
        secretHeaders: {},
        body: null,
        timeoutMs: 10_000,
        maxAttempts: 1,
        ...request,
      },
      templateContext: null,
    };
  }

  function startWorker(
    run: RunDispatcher,
    options: { pool?: TestDatabase['pool']; onDelivery?: () => void } = {},
  ) {
    const worker = new JetStreamWorker({
      js: nats.js,
      stream: nats.names.dispatchStream,
      durable: 'dispatcher',
      concurrency: 4,
      heartbeatMs: 1_000,
      retryDelayMs: () => 100,
      deadLetters: new PostgresDeadLetters(options.pool ?? db.pool),
      logger: silentLogger,
      handler: async (msg) => {
        options.onDelivery?.();
        await run.dispatch(parseWorkItem(msg.string()), {
          seq: msg.seq,
          deliveryCount: msg.info.deliveryCount,
        });
      },
    });
    workers.push(worker);
    worker.start();
    return worker;
  }

  async function publish(item: DispatchWorkItem, msgID: string = item.runId): Promise<number> {
    const ack = await nats.js.publish(
      nats.names.dispatchSubject(item.tenantId, item.endpointId),
      JSON.stringify(item),
      { msgID },
    );
    return ack.seq;
  }

  const runEvents = (runId: string) => store.readStream(streamIds.run(runId));
  const ofType = <T extends 'RunStarted' | 'RunFinished'>(events: EventEnvelope[], type: T) =>
    events.filter((event) => event.type === type) as EventEnvelope<
      T extends 'RunStarted' ? RunStarted : RunFinished
    >[];
  const queued = async () => (await nats.jsm.streams.info(nats.names.dispatchStream)).state.messages;

  describe('When a work item is dispatched', () => {
    it('should record RunStarted and RunFinished with the response, once, even when redelivered', async () => {
      const run = dispatcher();
      const item = workItem('/echo');
      const hitsBefore = target.hitsOf('/echo').length;
      await expect(run.dispatch(item, { seq: 101, deliveryCount: 1 })).resolves.toBe('finished');
      await expect(run.dispatch(item, { seq: 101, deliveryCount: 2 })).resolves.toBe('already_finished');
      // A late copy of the item, delivered for the first time: its append at version 0 conflicts.
      await expect(run.dispatch(item, { seq: 109, deliveryCount: 1 })).resolves.toBe('already_finished');

      const events = await runEvents(item.runId);
      expect(events.map((event) => event.type)).toEqual(['RunStarted', 'RunFinished']);
      expect(events[0].data).toMatchObject({ attempt: 1, scheduledFor: item.scheduledFor, workItemSeq: 101 });
      expect(events[1].data).toMatchObject({ status: 'success', httpStatus: 200, attempts: 1 });
      expect(ofType(events, 'RunFinished')[0].data.response?.snippet).toContain('"ok":true');
      expect(events[1].metadata).toMatchObject({
        tenantId: 'tenant1',
        actor: 'dispatcher',
        correlationId: item.correlationId,
        causationId: events[0].id,
      });
      expect(target.hitsOf('/echo')).toHaveLength(hitsBefore + 1);
    });

    it('should send decrypted secret headers to the target and keep them out of the events', async () => {
      const secret = `Bearer ${randomBytes(12).toString('hex')}`;
      const item = workItem('/echo', { secretHeaders: { authorization: secretBox.encrypt(secret) } });
      await dispatcher().dispatch(item, { seq: 102, deliveryCount: 1 });

      const hit = target.hits.at(-1);
      expect(hit?.headers.authorization).toBe(secret);
      const finished = ofType(await runEvents(item.runId), 'RunFinished')[0];
      expect(finished.data.response?.snippet).toContain('[redacted]');
      const { rows } = await db.pool.query<{ text: string }>(
        'SELECT data::text || metadata::text AS text FROM events',
      );
      expect(rows.map((row) => row.text).join('\n')).not.toContain(secret.slice(7));
    });

    it('should keep a secret out of the events when the target echoes it in its Content-Type', async () => {
      const secret = `token-${randomBytes(12).toString('hex')}`;
      const echo = createServer((req, res) => {
        res.writeHead(200, { 'content-type': `text/plain; echo=${String(req.headers['x-token'])}` });
        res.end('ok');
      });
      await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = echo.address() as AddressInfo;
        const base = workItem('/');
        const item = {
          ...base,
          request: {
            ...base.request,
            url: `http://127.0.0.1:${port}/`,
            secretHeaders: { 'x-token': secretBox.encrypt(secret) },
          },
        };

        await dispatcher().dispatch(item, { seq: 117, deliveryCount: 1 });

        const finished = ofType(await runEvents(item.runId), 'RunFinished')[0];
        expect(finished.data.response?.contentType).toBe('text/plain; echo=[redacted]');
        const { rows } = await db.pool.query<{ text: string }>('SELECT data::text AS text FROM events');
        expect(rows.map((row) => row.text).join('\n')).not.toContain(secret);
      } finally {
        echo.closeAllConnections();
        await new Promise((resolve) => echo.close(resolve));
      }
    });

    it('should fail the run without calling when a secret cannot be decrypted', async () => {
      const other = SecretBox.fromSecret('another key entirely');
      const item = workItem('/echo', { secretHeaders: { 'x-token': other.encrypt('nope') } });
      const hitsBefore = target.hits.length;
      await dispatcher().dispatch(item, { seq: 103, deliveryCount: 1 });

      expect(target.hits).toHaveLength(hitsBefore);
      const finished = ofType(await runEvents(item.runId), 'RunFinished')[0];
      expect(finished.data).toMatchObject({ status: 'failed', attempts: 0, httpStatus: null });
      expect(finished.data.error).toContain('x-token');
    });
  });

  describe('When the target answers with binary data', () => {
    it('should record RunFinished although the body holds NUL bytes, which Postgres text cannot', async () => {
      const binary = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.from('PK\u0003\u0004\u0000\u0000 zip', 'latin1'));
      });
      await new Promise<void>((resolve) => binary.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = binary.address() as AddressInfo;
        const base = workItem('/');
        const item = { ...base, request: { ...base.request, url: `http://127.0.0.1:${port}/` } };

        const outcome = await dispatcher({ finishAppendAttempts: 1 }).dispatch(item, {
          seq: 116,
          deliveryCount: 1,
        });

        expect(outcome).toBe('finished');
        const finished = ofType(await runEvents(item.runId), 'RunFinished')[0];
        expect(finished.data).toMatchObject({ status: 'success', httpStatus: 200 });
        expect(finished.data.response?.snippet).toBe('PK\u0003\u0004\uFFFD\uFFFD zip');
      } finally {
        binary.closeAllConnections();
        await new Promise((resolve) => binary.close(resolve));
      }
    });
  });

  describe('When the work item carries a template context', () => {
    it('should render the body template with it; without one the body is sent as configured', async () => {
      const template = { order: '{{trigger.payload.orderId}}', note: 'for {{trigger.name}}' };
      const triggered = {
        ...workItem('/echo', { method: 'POST', body: template }),
        trigger: 'trigger' as const,
        templateContext: { trigger: { name: 'order-paid', payload: { orderId: 42 } } },
      };
      await dispatcher().dispatch(triggered, { seq: 111, deliveryCount: 1 });
      expect(JSON.parse(target.hitsOf('/echo').at(-1)?.body ?? 'null')).toEqual({
        order: 42,
        note: 'for order-paid',
      });

      await dispatcher().dispatch(workItem('/echo', { method: 'POST', body: template }), {
        seq: 112,
        deliveryCount: 1,
      });
      expect(JSON.parse(target.hitsOf('/echo').at(-1)?.body ?? 'null')).toEqual(template);
    });

    it('should keep a body of JSON text valid when its content-type says JSON, whatever the values hold', async () => {
      const text = 'say "hi" \\ {{trigger.name}}\n';
      const item = {
        ...workItem('/echo', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json; charset=utf-8' },
          body: '{"text": "<{{trigger.payload.text}}>", "order": {{trigger.payload.order}}, "gone": {{trigger.payload.missing}}}',
        }),
        trigger: 'trigger' as const,
        templateContext: {
          trigger: { name: 'chat', payload: { text, order: { id: 7 } } },
          previousRun: null,
        },
      };
      await dispatcher().dispatch(item, { seq: 117, deliveryCount: 1 });
      expect(JSON.parse(target.hitsOf('/echo').at(-1)?.body ?? 'null')).toEqual({
        text: `<${text}>`,
        order: { id: 7 },
        gone: null,
      });
    });

    it('should send unknown paths empty and record them on RunFinished', async () => {
      const item = {
        ...workItem('/echo', {
          method: 'POST',
          body: { id: '{{trigger.payload.orderId}}', cursor: 'c={{previousRun.response.json.cursor}}' },
        }),
        trigger: 'trigger' as const,
        templateContext: { trigger: { name: 'order-paid', payload: { orderId: 7 } }, previousRun: null },
      };
      await dispatcher().dispatch(item, { seq: 114, deliveryCount: 1 });
      expect(JSON.parse(target.hitsOf('/echo').at(-1)?.body ?? 'null')).toEqual({ id: 7, cursor: 'c=' });
      const finished = ofType(await runEvents(item.runId), 'RunFinished')[0];
      expect(finished.data.templateUnresolved).toEqual(['previousRun.response.json.cursor']);

      const plain = workItem('/echo');
      await dispatcher().dispatch(plain, { seq: 115, deliveryCount: 1 });
      const plainFinished = ofType(await runEvents(plain.runId), 'RunFinished')[0];
      expect(plainFinished.data).not.toHaveProperty('templateUnresolved');
    });
  });

  describe('When the body template would insert more than 1 MiB', () => {
    it('should fail the run without calling the target, rather than send a blown-up body', async () => {
      const payload = 'x'.repeat(32 * 1024);
      const item = {
        ...workItem('/too-large', {
          method: 'POST',
          body: Array.from({ length: 40 }, () => '{{trigger.payload}}'),
        }),
        trigger: 'trigger' as const,
        templateContext: { trigger: { name: 'bulk', payload }, previousRun: null },
      };
      expect(await dispatcher().dispatch(item, { seq: 116, deliveryCount: 1 })).toBe('finished');
      const finished = ofType(await runEvents(item.runId), 'RunFinished')[0];
      expect(finished.data).toMatchObject({ status: 'failed', httpStatus: null, attempts: 0 });
      expect(finished.data.error).toContain('more than 1048576 characters');
      expect(target.hitsOf('/too-large')).toEqual([]);
    });
  });

  describe("When the app's clock is shifted", () => {
    it('should take startedAt, lateness and finishedAt from that clock', async () => {
      const at = new Date('2031-05-01T12:00:05.000Z');
      const item = { ...workItem('/echo'), scheduledFor: '2031-05-01T12:00:00.000Z' };
      await dispatcher({ clock: { now: () => at } }).dispatch(item, { seq: 113, deliveryCount: 1 });

      const [started, finished] = await runEvents(item.runId);
      expect(started.data).toMatchObject({ startedAt: at.toISOString(), lateMs: 5_000 });
      expect(finished.data).toMatchObject({ finishedAt: at.toISOString() });
      expect(finished.occurredAt).toBe(at.toISOString());
    });
  });

  describe('When another dispatcher takes the run over during the call', () => {
    it('should drop its own result so that only the new holder records RunFinished', async () => {
      const item = workItem('/hold');
      const hitsBefore = target.hitsOf('/hold').length;
      const first = dispatcher({ dispatcherId: 'slow:1' }).dispatch(item, { seq: 201, deliveryCount: 1 });
      await waitFor('the held call', () => target.hitsOf('/hold').length > hitsBefore);
      // What a second dispatcher appends when the first one's delivery was given up as dead.
      await store.append(
        streamIds.run(item.runId),
        [runStarted(item, 2, new Date(), { seq: 201, dispatcherId: 'other:2' })],
        {
          expectedVersion: 1,
          metadata: { tenantId: item.tenantId },
        },
      );
      target.release();

      await expect(first).resolves.toBe('superseded');
      const events = await runEvents(item.runId);
      expect(events.map((event) => event.type)).toEqual(['RunStarted', 'RunStarted']);
    });
  });

  describe('When every allowed delivery died before finishing', () => {
    it('should record the run as failed instead of calling again', async () => {
      const item = workItem('/echo');
      for (let attempt = 1; attempt <= 3; attempt++) {
        await store.append(
          streamIds.run(item.runId),
          [runStarted(item, attempt, new Date(), { seq: 301, dispatcherId: 'dead' })],
          {
            expectedVersion: attempt - 1,
            metadata: { tenantId: item.tenantId },
          },
        );
      }
      const hitsBefore = target.hits.length;
      await expect(dispatcher().dispatch(item, { seq: 301, deliveryCount: 4 })).resolves.toBe('abandoned');

      expect(target.hits).toHaveLength(hitsBefore);
      const finished = ofType(await runEvents(item.runId), 'RunFinished');
      expect(finished).toHaveLength(1);
      expect(finished[0].data).toMatchObject({ status: 'failed', attempts: 0 });
    });
  });

  describe('When two copies of a work item are queued', () => {
    it('should call the target once: the second copy leaves the run to the first', async () => {
      startWorker(dispatcher());
      const item = workItem('/hold');
      const hitsBefore = target.hitsOf('/hold').length;
      await publish(item, `${item.runId}-a`);
      await waitFor('the first copy to call', () => target.hitsOf('/hold').length === hitsBefore + 1);
      await publish(item, `${item.runId}-b`);
      await waitFor('the second copy to be acknowledged', async () => (await queued()) === 1);
      target.release();
      await waitFor('the queue to empty', async () => (await queued()) === 0);

      expect(target.hitsOf('/hold')).toHaveLength(hitsBefore + 1);
      const events = await runEvents(item.runId);
      expect(events.map((event) => event.type)).toEqual(['RunStarted', 'RunFinished']);
    });
  });

  describe('When Postgres is unreachable', () => {
    it('should keep the item queued without calling, and run it once Postgres is back', async () => {
      const proxy = await TcpProxy.start(Number(new URL(db.url).port || 5432));
      const pool = createPool(proxy.wrapUrl(db.url), { applicationName: 'dispatcher-behind-proxy', max: 4 });
      pool.on('error', () => undefined);
      try {
        let deliveries = 0;
        await proxy.pause();
        startWorker(dispatcher({ store: new PostgresEventStore(pool) }), {
          pool,
          onDelivery: () => (deliveries += 1),
        });
        const item = workItem('/echo');
        const hitsBefore = target.hits.length;
        await publish(item);

        await waitFor('three failed deliveries', () => deliveries >= 3);
        expect(target.hits).toHaveLength(hitsBefore);
        expect(await queued()).toBe(1);

        await proxy.resume();
        await waitFor('the queue to empty', async () => (await queued()) === 0);
        const events = await runEvents(item.runId);
        expect(events.map((event) => event.type)).toEqual(['RunStarted', 'RunFinished']);
        expect(events[0].data).toMatchObject({ attempt: 1 });
        expect(target.hits).toHaveLength(hitsBefore + 1);
      } finally {
        await Promise.all(workers.splice(0).map((worker) => worker.stop()));
        await pool.end();
        await proxy.close();
      }
    });
  });
});
