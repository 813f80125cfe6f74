import { randomUUID } from 'node:crypto';
import { jetstream, JsMsg } from '@nats-io/jetstream';
import { DispatchWorkItem } from '@cronicorn/events';
import { createTestDatabase, createTestNats, TcpProxy, TestDatabase, TestNats } from '@cronicorn/testing';
import { delay, waitFor } from '../test/helpers';
import { PostgresDeadLetters } from './dead-letters';
import { DeferredMessageError, PoisonMessageError } from './errors';
import { JetStreamWorker, MessageHandler } from './jetstream-worker';
import { silentLogger } from './logger';
import { connectNats } from './nats';
import { provisionConsumer } from './provisioning';

jest.setTimeout(30_000);

function workItem(endpointId: string): DispatchWorkItem {
  return {
    runId: randomUUID(),
    tenantId: 'tw',
    jobId: randomUUID(),
    endpointId,
    scheduledFor: '2026-01-01T00:00:00.000Z',
    trigger: 'schedule',
    retryOf: null,
    correlationId: null,
    request: {
      url: 'https://example.test',
      method: 'GET',
      headers: {},
      secretHeaders: {},
      body: null,
      timeoutMs: 1000,
      maxAttempts: 1,
    },
    templateContext: null,
  };
}

describe('JetStreamWorker', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let worker: JetStreamWorker | null = null;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  beforeEach(async () => {
    nats = await createTestNats();
    await provisionDispatcher({ maxDeliver: 3 });
  });
  afterEach(async () => {
    await worker?.stop();
    worker = null;
    await nats.cleanup();
  });
  afterAll(() => db.drop());

  /** (Re)provisions the durable the workers consume, `dispatcher` on the dispatch stream. */
  const provisionDispatcher = (spec: { maxDeliver?: number; ackWaitMs?: number }) =>
    provisionConsumer(nats.jsm, nats.names.dispatchStream, {
      durable: 'dispatcher',
      filterSubject: nats.names.allDispatch,
      ...spec,
    });

  function startWorker(handler: MessageHandler, concurrency = 1): JetStreamWorker {
    worker = new JetStreamWorker({
      js: nats.js,
      stream: nats.names.dispatchStream,
      durable: 'dispatcher',
      handler,
      deadLetters: new PostgresDeadLetters(db.pool),
      concurrency,
      retryDelayMs: () => 50,
      logger: silentLogger,
    });
    worker.start();
    return worker;
  }

  async function dispatch(item: DispatchWorkItem): Promise<void> {
    await nats.js.publish(nats.names.dispatchSubject(item.tenantId, item.endpointId), JSON.stringify(item), {
      msgID: item.runId,
    });
  }

  const streamMessages = async () => (await nats.jsm.streams.info(nats.names.dispatchStream)).state.messages;

  async function deadLetters() {
    const { rows } = await db.pool.query<{
      seq: string;
      subject: string;
      data: string;
      error: string;
      delivery_count: number;
    }>(
      `SELECT seq::text, subject, data, error, delivery_count FROM dead_letters WHERE stream = $1 ORDER BY id`,
      [nats.names.dispatchStream],
    );
    return rows;
  }

  describe('When a handler throws on one message', () => {
    it('should keep processing the others, redeliver the failing one, then terminate and record it', async () => {
      const items = ['e1', 'bad', 'e2', 'e3'].map(workItem);
      const done: string[] = [];
      const attempts: number[] = [];
      startWorker(async (m, { deliveryCount }) => {
        const item = m.json<DispatchWorkItem>();
        if (item.endpointId === 'bad') {
          attempts.push(deliveryCount);
          throw new Error('target refused');
        }
        done.push(item.endpointId);
      });

      for (const item of items) await dispatch(item);
      await waitFor(async () => (await deadLetters()).length === 1, 'a dead letter');
      await waitFor(async () => (await streamMessages()) === 0, 'the work queue to empty');

      expect(done.sort()).toEqual(['e1', 'e2', 'e3']);
      expect(attempts).toEqual([1, 2, 3]);
      const [letter] = await deadLetters();
      expect(letter).toMatchObject({
        subject: nats.names.dispatchSubject('tw', 'bad'),
        error: 'target refused',
        delivery_count: 3,
      });
      expect(JSON.parse(letter.data)).toEqual(items[1]);
    });

    it('should terminate a poison message at once', async () => {
      const attempts: number[] = [];
      startWorker(async (_m, { deliveryCount }) => {
        attempts.push(deliveryCount);
        throw new PoisonMessageError('unreadable work item');
      });

      await dispatch(workItem('poison'));
      await waitFor(async () => (await deadLetters()).length === 1, 'a dead letter');
      await waitFor(async () => (await streamMessages()) === 0, 'the work queue to empty');

      expect(attempts).toEqual([1]);
      expect((await deadLetters())[0]).toMatchObject({ error: 'unreadable work item', delivery_count: 1 });
    });
  });

  describe('When a message stays deferred behind another', () => {
    it('should retry it, then drop it after the last attempt without a dead letter', async () => {
      const attempts: number[] = [];
      startWorker(async (_m, { deliveryCount }) => {
        attempts.push(deliveryCount);
        throw new DeferredMessageError('waits for an earlier event');
      });

      await dispatch(workItem('behind'));
      await waitFor(async () => (await streamMessages()) === 0, 'the work queue to empty');

      expect(attempts).toEqual([1, 2, 3]);
      expect(await deadLetters()).toEqual([]);
    });
  });

  describe('When the last attempt ends without an outcome', () => {
    it('should dead-letter the message on the spare delivery without running the handler again', async () => {
      await provisionDispatcher({ maxDeliver: 1, ackWaitMs: 1_000 });
      await dispatch(workItem('vanished'));
      // The first attempt is taken by a process that dies before it settles the message (a
      // worker that lives keeps it with `working()`).
      const consumer = await nats.js.consumers.get(nats.names.dispatchStream, 'dispatcher');
      expect(await consumer.next({ expires: 5_000 })).not.toBeNull();
      let calls = 0;
      startWorker(async () => {
        calls += 1;
      }, 2);

      await waitFor(async () => (await deadLetters()).length === 1, 'a dead letter');

      expect(calls).toBe(0);
      expect((await deadLetters())[0]).toMatchObject({
        error: 'no outcome after 1 deliveries',
        delivery_count: 2,
      });
    });
  });

  describe('When a handler outlasts ack_wait', () => {
    it('should keep its message and the one waiting for its slot from redelivery, unasked', async () => {
      await provisionDispatcher({ maxDeliver: 1, ackWaitMs: 1_000 });
      const deliveries: Array<[string, number]> = [];
      startWorker(async (m, { deliveryCount }) => {
        deliveries.push([m.json<DispatchWorkItem>().endpointId, deliveryCount]);
        if (deliveries.length === 1) await delay(2_500);
      });

      await dispatch(workItem('slow'));
      await waitFor(() => deliveries.length === 1, 'the slow message started');
      await dispatch(workItem('waiting'));
      await waitFor(async () => (await streamMessages()) === 0, 'the work queue to empty');

      expect(deliveries).toEqual([
        ['slow', 1],
        ['waiting', 1],
      ]);
      expect(await deadLetters()).toEqual([]);
    });
  });

  describe('When many messages arrive with a concurrency limit', () => {
    it('should never run more handlers at once than allowed', async () => {
      let running = 0;
      let peak = 0;
      let handled = 0;
      startWorker(async () => {
        running += 1;
        peak = Math.max(peak, running);
        await delay(5);
        running -= 1;
        handled += 1;
      }, 3);

      await Promise.all(Array.from({ length: 30 }, (_, i) => dispatch(workItem(`c${i}`))));
      await waitFor(() => handled === 30, 'thirty handled messages');

      expect(peak).toBeLessThanOrEqual(3);
      expect(peak).toBeGreaterThan(1);
    });
  });

  describe('When the connection to NATS drops', () => {
    it('should resume consuming once NATS is reachable again', async () => {
      // A pull request that was waiting when the connection dropped may still take a message on
      // the server; that message comes back after ack_wait, kept short here.
      await provisionDispatcher({ ackWaitMs: 2_000 });
      const proxy = await TcpProxy.start(Number(new URL(nats.url).port || 4222));
      const nc = await connectNats(proxy.wrapUrl(nats.url), 'worker-behind-proxy', { logger: silentLogger });
      try {
        const done: string[] = [];
        worker = new JetStreamWorker({
          js: jetstream(nc),
          stream: nats.names.dispatchStream,
          durable: 'dispatcher',
          handler: async (m) => void done.push(m.json<DispatchWorkItem>().endpointId),
          deadLetters: new PostgresDeadLetters(db.pool),
          logger: silentLogger,
        });
        worker.start();
        await dispatch(workItem('before'));
        await waitFor(() => done.length === 1, 'the first message');

        await proxy.pause();
        await dispatch(workItem('during'));
        await proxy.resume();
        await dispatch(workItem('after'));
        await waitFor(() => done.length === 3, 'the messages sent while disconnected and after');

        expect(done.sort()).toEqual(['after', 'before', 'during']);
      } finally {
        await worker?.stop();
        worker = null;
        await nc.close();
        await proxy.close();
      }
    });
  });

  describe('When stopped while a handler runs', () => {
    it('should finish the in-flight handler and ack its message before returning', async () => {
      const order: string[] = [];
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let started: JsMsg | null = null;
      const running = startWorker(async (m, { working }) => {
        started = m;
        working();
        await released;
        order.push('handler finished');
      });
      await dispatch(workItem('long'));
      await waitFor(() => started !== null, 'the handler to start');

      const stopped = running.stop().then(() => order.push('stop returned'));
      const early = await Promise.race([
        stopped.then(() => 'stopped'),
        delay(300).then(() => 'still running'),
      ]);
      release();
      await stopped;
      worker = null;

      expect(early).toBe('still running');
      expect(order).toEqual(['handler finished', 'stop returned']);
      await waitFor(async () => (await streamMessages()) === 0, 'the acked message to leave the work queue');
    });
  });
});
