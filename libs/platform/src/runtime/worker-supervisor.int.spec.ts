import { Logger } from '@nestjs/common';
import { provisionConsumer } from '@cronicorn/messaging';
import { createTestNats, TestNats } from '@cronicorn/testing';
import { NatsHandle, NatsRuntime } from './nats.runtime';
import { deferred } from './retry';
import { SupervisorLogger, WorkerSupervisor, WorkerSupervisorOptions } from './worker-supervisor';

jest.setTimeout(30_000);

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

class TestWorker {
  stopCalls = 0;
  constructor(
    readonly handle: NatsHandle,
    private readonly stopping: Promise<void> = Promise.resolve(),
  ) {}

  async stop(): Promise<void> {
    this.stopCalls += 1;
    await this.stopping;
  }
}

class RecordingLogger implements SupervisorLogger {
  readonly lines: string[] = [];
  log(message: string): void {
    this.lines.push(`log ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error ${message}`);
  }
}

describe('WorkerSupervisor', () => {
  let testNats: TestNats;
  let runtime: NatsRuntime;
  let supervisor: WorkerSupervisor<TestWorker> | null;
  let logger: RecordingLogger;
  let workers: TestWorker[];

  function supervise(overrides: Partial<WorkerSupervisorOptions<TestWorker>> = {}) {
    supervisor = new WorkerSupervisor<TestWorker>({
      name: 'test-worker',
      database: { ready: Promise.resolve() },
      nats: runtime,
      logger,
      stoppingMessage: 'stopping: finishing the work in flight',
      start: (handle) => {
        const worker = new TestWorker(handle);
        workers.push(worker);
        return worker;
      },
      ...overrides,
    });
    supervisor.start();
    return supervisor;
  }

  beforeAll(async () => {
    Logger.overrideLogger(false);
    testNats = await createTestNats();
  });

  beforeEach(() => {
    runtime = new NatsRuntime(testNats.url, 'cronicorn-test-supervisor', testNats.names);
    runtime.start();
    supervisor = null;
    logger = new RecordingLogger();
    workers = [];
  });

  afterEach(async () => {
    await supervisor?.stop();
    await runtime.close();
  });

  afterAll(async () => {
    await testNats.cleanup();
  });

  describe('When Postgres and NATS are ready', () => {
    it('should provision the consumer, start one worker, and stop it on stop()', async () => {
      const database = deferred<void>();
      const durable = `supervised-${testNats.names.namespace}`;
      const provisioned: string[] = [];
      const s = supervise({
        database: { ready: database.promise },
        provision: async (handle) => {
          provisioned.push(durable);
          return provisionConsumer(handle.jsm, handle.names.eventsStream, {
            durable,
            filterSubject: handle.names.allEvents,
          });
        },
      });
      await runtime.ready;
      await new Promise((r) => setImmediate(r));
      expect(provisioned).toEqual([]);
      expect(s.current).toBeNull();

      database.resolve();
      await waitFor('a worker', () => s.current !== null);
      expect(workers).toHaveLength(1);
      expect(provisioned).toEqual([durable]);
      const info = await testNats.jsm.consumers.info(testNats.names.eventsStream, durable);
      expect(info.config.durable_name).toBe(durable);

      await s.stop();
      expect(workers[0].stopCalls).toBe(1);
      expect(s.current).toBeNull();
      expect(logger.lines).toEqual(['log stopping: finishing the work in flight', 'log test-worker stopped']);
    });

    it('should wait for the worker to finish stopping before stop() resolves', async () => {
      const finish = deferred<void>();
      const s = supervise({
        start: (handle) => {
          const worker = new TestWorker(handle, finish.promise);
          workers.push(worker);
          return worker;
        },
      });
      await waitFor('a worker', () => s.current !== null);

      let stopped = false;
      const stopping = s.stop().then(() => (stopped = true));
      await waitFor('stop to reach the worker', () => workers[0].stopCalls === 1);
      expect(stopped).toBe(false);
      finish.resolve();
      await stopping;
      expect(stopped).toBe(true);
    });
  });

  describe('When provisioning fails', () => {
    it('should log, back off and retry until it succeeds, then start the worker', async () => {
      let attempts = 0;
      const s = supervise({
        provision: async () => {
          attempts += 1;
          if (attempts === 1) throw new Error('stream not found');
        },
      });
      await waitFor('a worker', () => s.current !== null);
      expect(attempts).toBe(2);
      expect(logger.lines).toEqual([
        'warn cannot provision the test-worker consumer (stream not found); retrying',
      ]);
    });

    it('should not start a worker when shutdown begins while provisioning', async () => {
      const provisioning = deferred<void>();
      let provisionCalled = false;
      const s = supervise({
        provision: () => {
          provisionCalled = true;
          return provisioning.promise;
        },
      });
      await waitFor('provisioning', () => provisionCalled);
      const stopping = s.stop();
      provisioning.resolve();
      await stopping;
      expect(workers).toHaveLength(0);
      expect(logger.lines).toEqual(['log test-worker stopped']);
    });
  });

  describe('When the NATS connection closes for good', () => {
    it('should stop the worker and start a new one on the next connection', async () => {
      const s = supervise();
      await waitFor('a worker', () => s.current !== null);
      const first = workers[0];

      await first.handle.nc.close();
      await waitFor('a second worker', () => workers.length === 2 && s.current === workers[1]);
      expect(first.stopCalls).toBe(1);
      expect(workers[1].handle.nc).not.toBe(first.handle.nc);
      expect(workers[1].handle.nc.isClosed()).toBe(false);
      expect(logger.lines).toEqual([]);
    });
  });

  describe('When stopped before Postgres is ready', () => {
    it('should return without connecting a worker', async () => {
      const s = supervise({ database: { ready: new Promise<void>(() => undefined) } });
      await runtime.ready;
      await s.stop();
      expect(workers).toHaveLength(0);
      expect(s.current).toBeNull();
      expect(logger.lines).toEqual(['log test-worker stopped']);
    });
  });
});
