// `npm start`: brings up Postgres and NATS when needed, prepares the database and streams,
// then runs the five apps as supervised child processes until Ctrl+C / SIGTERM.
import { mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import {
  AppName,
  ConfigError,
  createPool,
  DEFAULT_DATABASE_URL,
  DEFAULT_NATS_URL,
  ensureDatabase,
  isPostgresReachable,
  loadConfig,
  portVariable,
  redactUrl,
  runMigrations,
  SecretBox,
} from '@cronicorn/platform';
import { connectNats, provisionStreams, silentLogger } from '@cronicorn/messaging';
import { jetstreamManager } from '@nats-io/jetstream';
import { EmbeddedPostgresServer } from './lib/embedded-postgres';
import { generateAdminKey, keptSecret } from './lib/keys';
import { findOnPath, NatsServerProcess } from './lib/nats-server';
import { httpStatus, isPortFree, isPortOpen } from './lib/net';
import { bold, paint, prefixedWriter, say } from './lib/output';
import { ManagedApp } from './lib/supervisor';

const APPS: readonly AppName[] = ['command-api', 'scheduler', 'dispatcher', 'ai-planner', 'projector'];
const ROOT = resolve(__dirname, '..', '..');
const DATA_DIR = join(ROOT, '.data');
const EMBEDDED_POSTGRES_PORT = 5433;
const NATS_PORT = 4222;
const STOP_GRACE_MS = 10_000;

let embeddedPostgres: EmbeddedPostgresServer | null = null;
let natsServer: NatsServerProcess | null = null;
const apps: ManagedApp[] = [];
let shuttingDown = false;

const rel = (path: string) => relative(process.cwd(), path) || '.';

/** A reason to stop that the user can act on; printed without a stack. */
class StartupError extends Error {}

function fail(message: string): never {
  throw new StartupError(message);
}

async function preparePostgres(env: NodeJS.ProcessEnv): Promise<string> {
  if (env.DATABASE_URL) {
    const url = env.DATABASE_URL;
    if (!(await isPostgresReachable(url))) {
      fail(
        `DATABASE_URL is set to ${redactUrl(url)} but no Postgres accepts connections there. Start it, or unset DATABASE_URL to use a local one.`,
      );
    }
    say(`Postgres: using DATABASE_URL ${redactUrl(url)}`);
    return url;
  }
  if (await isPortOpen(5432)) {
    if (!(await isPostgresReachable(DEFAULT_DATABASE_URL))) {
      fail(
        `something listens on 127.0.0.1:5432 but ${DEFAULT_DATABASE_URL} is refused (auth?). Set DATABASE_URL.`,
      );
    }
    say(`Postgres: using the local server, ${DEFAULT_DATABASE_URL}`);
    return DEFAULT_DATABASE_URL;
  }
  say(
    `Postgres: nothing on 127.0.0.1:5432 and no DATABASE_URL; starting embedded Postgres on :${EMBEDDED_POSTGRES_PORT}`,
  );
  embeddedPostgres = new EmbeddedPostgresServer(join(DATA_DIR, 'postgres'), EMBEDDED_POSTGRES_PORT, say);
  await embeddedPostgres.start();
  say(`Postgres: embedded server ready, data in ${rel(join(DATA_DIR, 'postgres'))}`);
  return embeddedPostgres.url;
}

/** The servers of a NATS_URL as the client reads it: comma-separated, the scheme optional. */
function natsServers(url: string): Array<{ host: string; port: number }> {
  return url.split(',').map((entry) => {
    const server = entry.trim();
    let parsed: URL | null = null;
    try {
      parsed = new URL(server.includes('://') ? server : `nats://${server}`);
    } catch {
      // reported below
    }
    if (!parsed?.hostname) {
      fail(`NATS_URL is set to ${url}, which is not a NATS server list (nats://host:port, comma-separated).`);
    }
    return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(parsed.port || NATS_PORT) };
  });
}

async function prepareNats(env: NodeJS.ProcessEnv): Promise<string> {
  if (env.NATS_URL) {
    const servers = natsServers(env.NATS_URL);
    const open = await Promise.all(servers.map(({ host, port }) => isPortOpen(port, host)));
    if (!open.includes(true)) {
      fail(
        `NATS_URL is set to ${env.NATS_URL} but nothing answers there. Start NATS, or unset NATS_URL to use a local one.`,
      );
    }
    say(`NATS: using NATS_URL ${env.NATS_URL}`);
    return env.NATS_URL;
  }
  if (await isPortOpen(NATS_PORT)) {
    say(`NATS: using the local server, ${DEFAULT_NATS_URL}`);
    return DEFAULT_NATS_URL;
  }
  const binary = findOnPath('nats-server');
  if (!binary) {
    fail(
      'NATS: nothing on 127.0.0.1:4222, NATS_URL is not set and nats-server is not on PATH. ' +
        'Install nats-server (e.g. `apt-get install nats-server`, or from https://nats.io) or set NATS_URL.',
    );
  }
  say(
    `NATS: nothing on 127.0.0.1:${NATS_PORT}; starting ${binary} with JetStream (store in ${rel(join(DATA_DIR, 'nats'))})`,
  );
  natsServer = new NatsServerProcess(binary, join(DATA_DIR, 'nats'), NATS_PORT, prefixedWriter('nats', 37));
  await natsServer.start();
  say('NATS: server ready');
  return natsServer.url;
}

/** Creates the database, applies migrations and provisions streams once, before the apps start. */
async function prepareStores(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfig('command-api', env);
  const created = await ensureDatabase(config.databaseUrl);
  const pool = createPool(config.databaseUrl, { applicationName: 'cronicorn-start', max: 1 });
  try {
    const applied = await runMigrations(pool);
    say(
      `database ${created ? 'created' : 'exists'}; ${applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'schema up to date'}`,
    );
  } finally {
    await pool.end();
  }
  let nc;
  try {
    nc = await connectNats(config.natsUrl, 'cronicorn-start', {
      logger: silentLogger,
      maxReconnectAttempts: 0,
    });
  } catch (error) {
    fail((error as Error).message);
  }
  try {
    await provisionStreams(await jetstreamManager(nc), config.nats);
    say(`JetStream streams ${config.nats.eventsStream} and ${config.nats.dispatchStream} ready`);
  } finally {
    await nc.close();
  }
}

/** Every app's configuration is usable and every app has a port of its own. */
function checkConfiguration(env: NodeJS.ProcessEnv): void {
  const owners = new Map<number, AppName>();
  for (const app of APPS) {
    const { port } = loadConfig(app, env);
    if (port === 0) {
      fail(`${portVariable(app)}=0 picks a random port, which npm start cannot watch; set a fixed port.`);
    }
    const owner = owners.get(port);
    if (owner) {
      fail(
        `${portVariable(owner)} and ${portVariable(app)} are both ${port}; give each app a port of its own.`,
      );
    }
    owners.set(port, app);
  }
}

async function checkPorts(env: NodeJS.ProcessEnv): Promise<void> {
  for (const app of APPS) {
    const port = loadConfig(app, env).port;
    if (!(await isPortFree(port))) {
      fail(`port ${port} for ${app} is taken by another process; free it or set ${portVariable(app)}.`);
    }
  }
}

async function waitUntilHealthy(env: NodeJS.ProcessEnv): Promise<void> {
  const pending = new Set(APPS);
  let nextNotice = Date.now() + 30_000;
  while (pending.size > 0 && !shuttingDown) {
    for (const app of [...pending]) {
      if ((await httpStatus(`http://127.0.0.1:${loadConfig(app, env).port}/healthz`)) === 200)
        pending.delete(app);
    }
    if (pending.size === 0) return;
    if (Date.now() > nextNotice) {
      say(`still waiting for /healthz of: ${[...pending].join(', ')} (see their logs above)`);
      nextNotice = Date.now() + 30_000;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function banner(env: NodeJS.ProcessEnv, adminKeyFile: string | null, seconds: string): void {
  const api = `http://localhost:${loadConfig('command-api', env).port}`;
  const lines = [
    '',
    bold(`Cronicorn is up (${seconds}s): all five apps answer /healthz.`),
    `  API            ${api}/v1`,
    `  Swagger        ${api}/docs   (OpenAPI JSON: ${api}/docs-json)`,
    // Only a key generated here is printed: one the operator gave would only reach collected logs.
    ...(adminKeyFile
      ? [
          `  Admin API key  ${env.ADMIN_API_KEY}`,
          `                 kept in ${rel(adminKeyFile)}; send it as header x-api-key`,
        ]
      : ['  Admin API key  the one in ADMIN_API_KEY (not shown); send it as header x-api-key']),
    `  Health         ${APPS.map((app) => `:${loadConfig(app, env).port}`).join(' ')}  (/healthz /readyz /metrics)`,
    `  Stop           Ctrl+C (or kill -TERM ${process.pid})`,
    '',
  ];
  for (const line of lines) say(line);
}

async function shutdown(reason: string, exitCode = 0): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  say(
    `${reason}: stopping${apps.length ? ` the apps (up to ${STOP_GRACE_MS / 1000}s for in-flight work)` : ''}`,
  );
  await Promise.all(apps.map((app) => app.stop(STOP_GRACE_MS)));
  if (apps.length) say('apps stopped');
  if (natsServer) {
    await natsServer.stop();
    say('NATS server stopped');
  }
  if (embeddedPostgres) {
    await embeddedPostgres.stop();
    say('embedded Postgres stopped');
  }
  say(exitCode === 0 ? 'bye' : 'stopped after an error');
  process.exit(exitCode);
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  process.on('SIGINT', () => void shutdown('SIGINT received'));
  process.on('SIGTERM', () => void shutdown('SIGTERM received'));
  // `npm start` runs us under `sh -c`, which dies on SIGTERM without passing it on: a new
  // parent pid means we were orphaned, and then we stop as if signalled.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && void shutdown('parent process exited'), 1_000).unref();
  mkdirSync(DATA_DIR, { recursive: true, mode: 0o755 });
  const env: NodeJS.ProcessEnv = { ...process.env };
  checkConfiguration(env);

  say('step 1/5: Postgres');
  env.DATABASE_URL = await preparePostgres(process.env);
  say('step 2/5: NATS');
  env.NATS_URL = await prepareNats(process.env);

  say('step 3/5: database, migrations and streams');
  await prepareStores(env);

  say('step 4/5: keys');
  const adminKey = keptSecret(process.env.ADMIN_API_KEY, join(DATA_DIR, 'admin-api-key'), generateAdminKey);
  env.ADMIN_API_KEY = adminKey.value;
  say(
    adminKey.file
      ? `admin API key ${adminKey.created ? 'generated' : 'reused'} (${rel(adminKey.file)})`
      : 'admin API key from ADMIN_API_KEY',
  );
  const secretsKey = keptSecret(
    process.env.SECRETS_KEY,
    join(DATA_DIR, 'secrets-key'),
    SecretBox.generateSecret,
  );
  env.SECRETS_KEY = secretsKey.value;
  say(
    secretsKey.file
      ? `SECRETS_KEY ${secretsKey.created ? 'generated' : 'reused'} (${rel(secretsKey.file)})`
      : 'SECRETS_KEY from the environment',
  );

  say('step 5/5: apps');
  await checkPorts(env);
  if (shuttingDown) return;
  for (const name of APPS) {
    const app = new ManagedApp({
      name,
      command: process.execPath,
      args: [join(ROOT, 'dist', 'apps', name, 'src', 'main.js')],
      cwd: ROOT,
      env,
      write: prefixedWriter(name),
      say,
    });
    apps.push(app);
    app.start();
  }
  await waitUntilHealthy(env);
  if (!shuttingDown) banner(env, adminKey.file, ((Date.now() - startedAt) / 1000).toFixed(1));
}

main().catch(async (error: unknown) => {
  const message =
    error instanceof StartupError || error instanceof ConfigError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  say(paint(31, `error: ${message}`));
  await shutdown('startup failed', 1).catch(() => undefined);
  process.exit(1);
});
