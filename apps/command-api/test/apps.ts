import { ChildProcess, spawn } from 'node:child_process';
import { AddressInfo, createServer } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { PostgresEventStore } from '@cronicorn/event-store';
import { silentLogger } from '@cronicorn/messaging';
import { loadConfig } from '@cronicorn/platform';
import { ProjectorRunner } from '../../projector/src/projector.runner';
import { SchedulerModule } from '../../scheduler/src/scheduler.module';
import type { TestApi } from './harness';

// The other apps of an installation, on a test API's database and NATS namespace, for suites
// that follow a write through the projector, the scheduler and the dispatcher.

export const waitFor = async (
  what: string,
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
};

/** The projector's runner, in this process: it fills the read models the GETs serve. */
export async function startProjectorFor(api: TestApi): Promise<() => Promise<void>> {
  const runner = new ProjectorRunner({
    pool: api.db.pool,
    store: new PostgresEventStore(api.db.pool),
    logger: silentLogger,
  });
  runner.start();
  return () => runner.stop();
}

/** The scheduler app's module, in this process: it plans runs and hands them to the dispatch queue. */
export async function startSchedulerFor(api: TestApi): Promise<() => Promise<void>> {
  const config = loadConfig('scheduler', {
    DATABASE_URL: api.db.url,
    NATS_URL: api.nats.url,
    CRONICORN_NATS_NAMESPACE: api.nats.names.namespace,
    LOG_LEVEL: 'silent',
  });
  const moduleRef = await Test.createTestingModule({
    imports: [SchedulerModule.forRoot({ core: { config }, scheduler: { sweepIntervalMs: 500 } })],
  }).compile();
  const app: INestApplication = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return () => app.close();
}

const ROOT = resolve(__dirname, '..', '..', '..');
const DISPATCHER_MAIN = resolve(ROOT, 'dist', 'apps', 'dispatcher', 'src', 'main.js');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * The dispatcher as its own process (`dist/`, built once by the e2e global setup), allowed to
 * call targets on loopback. Resolves once it consumes the dispatch queue.
 */
export async function startDispatcherFor(api: TestApi): Promise<() => Promise<void>> {
  const output: string[] = [];
  const child: ChildProcess = spawn(process.execPath, [DISPATCHER_MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: api.db.url,
      NATS_URL: api.nats.url,
      CRONICORN_NATS_NAMESPACE: api.nats.names.namespace,
      ALLOWED_TARGET_ADDRESSES: '127.0.0.1',
      DISPATCHER_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => output.push(line));
  }
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor('the dispatcher to consume', () => {
      if (child.exitCode !== null) throw new Error(`dispatcher exited:\n${output.join('\n')}`);
      return output.some((line) => line.includes('consuming'));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}
