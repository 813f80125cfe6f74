import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client } from 'pg';
import { NatsNames } from '@cronicorn/events';
import { TcpProxy } from '@cronicorn/testing';

const ROOT = resolve(__dirname, '..');
const ADMIN_DB_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const APPS = ['command-api', 'scheduler', 'dispatcher', 'ai-planner', 'projector'] as const;
const PORT_VARIABLES = ['PORT', 'SCHEDULER_PORT', 'DISPATCHER_PORT', 'AI_PLANNER_PORT', 'PROJECTOR_PORT'];

jest.setTimeout(180_000);

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((done) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => done(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function get(port: number, path: string): Promise<{ status: number; body: unknown }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3_000) });
    const text = await res.text();
    return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
  } catch {
    return { status: 0, body: null };
  }
}

/** The launcher's environment: its own database, NATS namespace, keys and ports. */
function launchEnv(databaseUrl: string, names: NatsNames, ports: number[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    NATS_URL: 'nats://127.0.0.1:4222',
    CRONICORN_NATS_NAMESPACE: names.namespace,
    ADMIN_API_KEY: `ck_admin_${randomBytes(32).toString('base64url')}`,
    SECRETS_KEY: randomBytes(32).toString('base64url'),
    LOG_LEVEL: 'warn',
    NO_COLOR: '1',
  };
  PORT_VARIABLES.forEach((variable, i) => (env[variable] = String(ports[i])));
  return env;
}

/** Removes what a launch of the system created: its database and its NATS streams. */
async function dropDatabaseAndStreams(database: string, names: NatsNames): Promise<void> {
  const admin = new Client({ connectionString: ADMIN_DB_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
  const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  for (const stream of [names.eventsStream, names.dispatchStream]) {
    await jsm.streams.delete(stream).catch(() => undefined);
  }
  await nc.close();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('npm start (scripts/start.ts)', () => {
  const suffix = randomBytes(4).toString('hex');
  const database = `cronicorn_test_${suffix}`;
  const names = new NatsNames(`t${suffix}`);
  const output: string[] = [];
  let ports: number[];
  let proxy: TcpProxy;
  let launcher: ChildProcess;
  let adminApiKey: string;
  let exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  const dump = () => output.slice(-60).join('\n');

  // dist/ is built once per jest run by the e2e project's globalSetup (test/build-once.js).
  beforeAll(async () => {
    proxy = await TcpProxy.start(5432);
    ports = await freePorts(APPS.length);
    // Postgres goes through the proxy so the test can take it away from the running apps.
    const env = launchEnv(`postgres://postgres@127.0.0.1:${proxy.port}/${database}`, names, ports);
    adminApiKey = env.ADMIN_API_KEY as string;
    launcher = spawn(process.execPath, ['dist/scripts/start.js'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [launcher.stdout, launcher.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => output.push(line));
    }
    exit = new Promise((done) => launcher.once('exit', (code, signal) => done({ code, signal })));
  });

  afterAll(async () => {
    if (launcher.exitCode === null && launcher.signalCode === null) {
      launcher.kill('SIGTERM');
      await exit;
    }
    await proxy?.close();
    await dropDatabaseAndStreams(database, names);
  });

  it('brings up all five apps: the banner, then /healthz and /readyz answer 200', async () => {
    await waitFor('the banner', () => output.some((line) => line.includes('Cronicorn is up')), 120_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${dump()}`);
      },
    );
    expect(output.join('\n')).toContain(`Swagger        http://localhost:${ports[0]}/docs`);
    // A key the operator gave is theirs already: printed, it would only end up in collected logs.
    expect(output.join('\n')).not.toContain(adminApiKey);
    for (const port of ports) {
      expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
      await waitFor(`/readyz on :${port}`, async () => (await get(port, '/readyz')).status === 200);
    }
    const docs = await get(ports[0], '/docs-json');
    expect(docs.status).toBe(200);
    const schemes = (docs.body as { components?: { securitySchemes?: Record<string, unknown> } }).components
      ?.securitySchemes;
    expect(Object.values(schemes ?? {})).toContainEqual(
      expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-api-key' }),
    );
  });

  it('says 503 on /readyz while Postgres is unreachable, and 200 again once it is back', async () => {
    const projector = ports[4];
    await proxy.pause();
    await waitFor('/readyz 503', async () => (await get(projector, '/readyz')).status === 503);
    const down = await get(projector, '/readyz');
    expect(down.body).toMatchObject({
      status: 'unavailable',
      checks: { postgres: { ok: false }, nats: { ok: true } },
    });
    expect((await get(projector, '/healthz')).status).toBe(200);

    await proxy.resume();
    for (const port of ports) {
      await waitFor(`/readyz 200 on :${port}`, async () => (await get(port, '/readyz')).status === 200);
    }
  });

  it('stops every app on SIGTERM and exits 0, leaving no child process', async () => {
    const pids = output
      .map((line) => /started \(pid (\d+)\)/.exec(line)?.[1])
      .filter((pid): pid is string => pid !== undefined)
      .map(Number);
    expect(pids).toHaveLength(APPS.length);
    expect(pids.every(isAlive)).toBe(true);

    launcher.kill('SIGTERM');
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(pids.filter(isAlive)).toEqual([]);
    expect(output.join('\n')).toContain('apps stopped');
  });
});

describe('npm start with a configuration it cannot use', () => {
  const suffix = randomBytes(4).toString('hex');
  const database = `cronicorn_test_${suffix}`;
  const names = new NatsNames(`t${suffix}`);
  const launched: ChildProcess[] = [];

  /** Runs the launcher until it exits (or `timeoutMs` passes, then kills it); its output. */
  async function launch(
    overrides: NodeJS.ProcessEnv,
    timeoutMs = 30_000,
  ): Promise<{ code: number | null; output: string }> {
    const env = launchEnv(
      `postgres://postgres@127.0.0.1:5432/${database}`,
      names,
      await freePorts(APPS.length),
    );
    const child = spawn(process.execPath, ['dist/scripts/start.js'], {
      cwd: ROOT,
      env: { ...env, ...overrides },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    launched.push(child);
    const lines: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => lines.push(line));
    }
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
    clearTimeout(timer);
    return { code, output: lines.join('\n') };
  }

  afterAll(async () => {
    for (const child of launched) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await dropDatabaseAndStreams(database, names);
  });

  it('names a bad variable and stops before it starts anything', async () => {
    const { code, output } = await launch({ LOG_LEVEL: 'verbose' });
    expect(code).toBe(1);
    expect(output).toContain('error: LOG_LEVEL must be one of');
    expect(output).not.toContain('step 1/5');
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('refuses two apps on one port, naming both variables', async () => {
    const [port] = await freePorts(1);
    const { code, output } = await launch({ PORT: String(port), SCHEDULER_PORT: String(port) });
    expect(code).toBe(1);
    expect(output).toContain(`PORT and SCHEDULER_PORT are both ${port}`);
    expect(output).not.toContain('step 1/5');
  });

  it('reads NATS_URL as the NATS client does (host:port, lists) and names it when nothing answers', async () => {
    const [closed] = await freePorts(1);
    for (const url of [`127.0.0.1:${closed}`, `nats://127.0.0.1:${closed},nats://127.0.0.1:${closed}`]) {
      const { code, output } = await launch({ NATS_URL: url });
      expect(code).toBe(1);
      expect(output).toContain(`NATS_URL is set to ${url} but nothing answers there`);
      expect(output).not.toMatch(/\n\s+at /);
    }
  });
});
