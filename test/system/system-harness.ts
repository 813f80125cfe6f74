import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo, createServer, Socket } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createTestDatabase, createTestNats, TcpProxy, TestDatabase, TestNats } from '@cronicorn/testing';

// The whole system as it runs in production: each app a `node dist/apps/<app>/src/main.js`
// child process (dist/ is built once per jest run by test/build-once.js), on this suite's own
// database and NATS namespace, calling a loopback HTTP target the test watches.
//
// Debugging knobs: CRONICORN_E2E_LOG_LINES (app log lines in a failure message, default 60),
// CRONICORN_E2E_KEEP_DATA=true (keep the database and streams after the run).

const ROOT = resolve(__dirname, '..', '..');

export const APP_NAMES = ['command-api', 'scheduler', 'dispatcher', 'ai-planner', 'projector'] as const;
export type AppName = (typeof APP_NAMES)[number];

const PORT_VARIABLE: Record<AppName, string> = {
  'command-api': 'PORT',
  scheduler: 'SCHEDULER_PORT',
  dispatcher: 'DISPATCHER_PORT',
  'ai-planner': 'AI_PLANNER_PORT',
  projector: 'PROJECTOR_PORT',
};

/** Environment variables the harness owns: never inherited from the test runner's environment. */
const OWNED_VARIABLES = [
  ...Object.values(PORT_VARIABLE),
  'DATABASE_URL',
  'NATS_URL',
  'CRONICORN_NATS_NAMESPACE',
  'CRONICORN_CLOCK_OFFSET_MS',
  'ADMIN_API_KEY',
  'SECRETS_KEY',
  'ALLOW_PRIVATE_TARGETS',
  'ALLOWED_TARGET_ADDRESSES',
  'OPENAI_API_KEY',
  'OPENAI_BASE_URL',
];

const STOP_GRACE_MS = 5_000;

//////////////////////////////////////// Waiting

export const delay = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** Polls `condition` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  pollMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(pollMs);
  }
}

/** Retries `check` (assertions) until it passes; rethrows its last failure after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await delay(pollMs);
    }
  }
}

export async function freePorts(count: number): Promise<number[]> {
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

//////////////////////////////////////// The loopback target

/** One request the target received. `at` is the wall clock (ms) when its body had arrived. */
export interface TargetHit {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * An HTTP server on 127.0.0.1 that records every request. Paths under `/fail` answer 500.
 * Paths under `/drop-reused` model a server that closed an idle kept-alive connection just
 * as the next request was sent on it: a request arriving on a connection that already served
 * one is dropped (socket destroyed, nothing answered, counted in `dropped`, not in `hits`).
 * Every other path answers 200 with a small JSON body.
 */
export class LoopbackTarget {
  private constructor(
    private readonly server: Server,
    readonly hits: TargetHit[],
    readonly dropped: TargetHit[],
  ) {}

  static async start(): Promise<LoopbackTarget> {
    const hits: TargetHit[] = [];
    const dropped: TargetHit[] = [];
    const served = new WeakMap<Socket, number>();
    const server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = new URL(req.url ?? '/', 'http://target').pathname;
        const hit = {
          at: Date.now(),
          method: req.method ?? 'GET',
          path,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        const before = served.get(req.socket) ?? 0;
        served.set(req.socket, before + 1);
        if (before > 0 && (path === '/drop-reused' || path.startsWith('/drop-reused/'))) {
          dropped.push(hit);
          req.socket.destroy();
          return;
        }
        hits.push(hit);
        const failing = path === '/fail' || path.startsWith('/fail/');
        res.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(failing ? { error: 'boom' } : { ok: true }));
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    return new LoopbackTarget(server, hits, dropped);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  hitsOf(path: string): TargetHit[] {
    return this.hits.filter((hit) => hit.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((done) => this.server.close(done));
  }
}

//////////////////////////////////////// One app process

/** One `node dist/apps/<app>/src/main.js` child. */
export class AppProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly app: AppName,
    readonly instance: number,
    readonly port: number,
    readonly child: ChildProcess,
    log: (line: string) => void,
  ) {
    const label = `${app}#${instance}`;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => log(`[${label}] ${line}`));
    }
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
    child.once('exit', (code, signal) => log(`[${label}] exited (${signal ?? `code ${code}`})`));
  }

  get label(): string {
    return `${this.app}#${this.instance}`;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async status(path: string): Promise<number> {
    try {
      const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.text();
      return res.status;
    } catch {
      return 0;
    }
  }

  /** SIGKILL at once: a crash, as far as the rest of the system can tell. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.alive && this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

//////////////////////////////////////// HTTP client of the API

export interface ApiAnswer<T> {
  status: number;
  body: T;
}

export type Json = Record<string, unknown>;

export interface RequestOptions {
  apiKey?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export async function apiRequest<T = Json>(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.apiKey !== undefined) headers['x-api-key'] = options.apiKey;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T };
}

/** The body of `answer`, or an error naming the call, the status and the body. */
export function expectStatus<T>(answer: ApiAnswer<T>, status: number, what = 'request'): T {
  if (answer.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body;
}

/** A tenant's view of the API: its key on every call. */
export class TenantClient {
  constructor(
    readonly baseUrl: string,
    readonly tenantId: string,
    readonly apiKey: string,
  ) {}

  request<T = Json>(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
    return apiRequest<T>(this.baseUrl, method, path, { apiKey: this.apiKey, body, headers });
  }

  /**
   * A command that rides out a 503 (Postgres briefly unreachable, say on a busy shared
   * server): retried for up to 15 s under one `Idempotency-Key`, so it takes effect once.
   */
  async command<T = Json>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const headers = method === 'POST' ? { 'idempotency-key': randomBytes(12).toString('hex') } : undefined;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const answer = await this.request<T>(method, path, body, headers);
      if (answer.status !== 503 || Date.now() > deadline) return answer;
      await delay(250);
    }
  }

  async get<T = Json>(path: string): Promise<T> {
    return expectStatus(await this.request<T>('GET', path), 200, `GET ${path}`);
  }

  /** POST expecting 201 or 202. */
  async post<T = Json>(path: string, body: unknown = {}): Promise<T> {
    const answer = await this.command<T>('POST', path, body);
    if (answer.status !== 201 && answer.status !== 202) expectStatus(answer, 201, `POST ${path}`);
    return answer.body;
  }

  async delete<T = Json>(path: string): Promise<T> {
    const answer = await this.command<T>('DELETE', path);
    if (answer.status !== 200 && answer.status !== 202) expectStatus(answer, 202, `DELETE ${path}`);
    return answer.body;
  }

  async createJob(name = `job-${randomBytes(3).toString('hex')}`): Promise<string> {
    return (await this.post<{ jobId: string }>('/v1/jobs', { name })).jobId;
  }

  /** `POST /v1/jobs/:jobId/endpoints` (DESIGN §6); `name` defaults to a random one. */
  async createEndpoint(jobId: string, body: Json): Promise<string> {
    const answer = await this.post<{ endpointId: string }>(`/v1/jobs/${jobId}/endpoints`, {
      name: `endpoint-${randomBytes(3).toString('hex')}`,
      ...body,
    });
    return answer.endpointId;
  }
}

//////////////////////////////////////// The system

export interface SystemOptions {
  /** Processes per app; an app left out is not started. Default: one of each. */
  instances?: Partial<Record<AppName, number>>;
  /** Extra environment for every app. */
  env?: NodeJS.ProcessEnv;
  /** Extra environment per app. */
  appEnv?: Partial<Record<AppName, NodeJS.ProcessEnv>>;
  /** `CRONICORN_CLOCK_OFFSET_MS` of every app (the same for all, as an installation must). */
  clockOffsetMs?: number;
  /** How long every app may take to answer `/readyz` 200. */
  readyTimeoutMs?: number;
  /** Route the apps' Postgres connections through a TcpProxy (`postgresProxy.pause()` cuts them). */
  postgresProxy?: boolean;
  /** Route the apps' NATS connections through a TcpProxy (`natsProxy.pause()` cuts them). */
  natsProxy?: boolean;
}

/**
 * Real apps as child processes over their own database and NATS namespace, with a loopback
 * target. `start()` resolves once every process answers `/readyz` 200; `stop()` (afterAll)
 * stops them (SIGTERM, SIGKILL after 5 s), deletes the streams and drops the database.
 */
export class CronicornSystem {
  readonly processes: AppProcess[] = [];
  readonly output: string[] = [];
  readonly adminKey = `ck_admin_${randomBytes(24).toString('base64url')}`;
  private readonly secretsKey = randomBytes(32).toString('base64url');
  private readonly instanceCount = new Map<AppName, number>();

  private constructor(
    readonly db: TestDatabase,
    readonly nats: TestNats,
    readonly target: LoopbackTarget,
    /** Present when started with `postgresProxy: true`. */
    readonly postgresProxy: TcpProxy | null,
    /** Present when started with `natsProxy: true`. */
    readonly natsProxy: TcpProxy | null,
    private readonly options: SystemOptions,
  ) {}

  static async start(options: SystemOptions = {}): Promise<CronicornSystem> {
    const db = await createTestDatabase({ max: 5 });
    const nats = await createTestNats();
    const target = await LoopbackTarget.start();
    const proxyTo = (url: string, defaultPort: number) =>
      TcpProxy.start(Number(new URL(url).port || defaultPort));
    const postgresProxy = options.postgresProxy ? await proxyTo(db.url, 5432) : null;
    const natsProxy = options.natsProxy ? await proxyTo(nats.url, 4222) : null;
    const system = new CronicornSystem(db, nats, target, postgresProxy, natsProxy, options);
    try {
      const counts = options.instances ?? Object.fromEntries(APP_NAMES.map((app) => [app, 1]));
      const wanted = APP_NAMES.flatMap((app) => Array.from({ length: counts[app] ?? 0 }, () => app));
      await Promise.all(wanted.map((app) => system.spawn(app)));
    } catch (error) {
      await system.stop();
      throw system.explain(error);
    }
    return system;
  }

  get clockOffsetMs(): number {
    return this.options.clockOffsetMs ?? 0;
  }

  /** The apps' "now" in ms (`Date.now()` shifted by the clock offset). */
  appNow(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Base URL of the first live command-api. */
  get apiUrl(): string {
    const api = this.processes.find((p) => p.app === 'command-api' && p.alive);
    if (!api) throw new Error('no command-api is running');
    return api.url;
  }

  of(app: AppName): AppProcess[] {
    return this.processes.filter((p) => p.app === app);
  }

  /** Starts one more process of `app` and waits until it answers `/readyz` 200. */
  async spawn(app: AppName): Promise<AppProcess> {
    const [port] = await freePorts(1);
    const instance = (this.instanceCount.get(app) ?? 0) + 1;
    this.instanceCount.set(app, instance);
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of OWNED_VARIABLES) delete env[name];
    Object.assign(env, {
      DATABASE_URL: this.postgresProxy ? this.postgresProxy.wrapUrl(this.db.url) : this.db.url,
      NATS_URL: this.natsProxy ? this.natsProxy.wrapUrl(this.nats.url) : this.nats.url,
      CRONICORN_NATS_NAMESPACE: this.nats.names.namespace,
      ADMIN_API_KEY: this.adminKey,
      SECRETS_KEY: this.secretsKey,
      // The target listens on loopback: allow exactly that address; the SSRF guard stays on.
      ALLOWED_TARGET_ADDRESSES: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NO_COLOR: '1',
      AI_ANALYSIS_INTERVAL_MS: String(24 * 3_600_000),
      // Postgres here is shared (max_connections 100): several processes × 10 would crowd it.
      DATABASE_POOL_SIZE: '5',
      ...(this.options.clockOffsetMs
        ? { CRONICORN_CLOCK_OFFSET_MS: String(this.options.clockOffsetMs) }
        : {}),
      ...this.options.env,
      ...this.options.appEnv?.[app],
      [PORT_VARIABLE[app]]: String(port),
    });
    const spawnedAt = Date.now();
    const child = spawn(process.execPath, [resolve(ROOT, 'dist', 'apps', app, 'src', 'main.js')], {
      cwd: ROOT,
      env,
      // The IPC channel makes an app shut down by itself should this test process die.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const proc = new AppProcess(app, instance, port, child, (line) => this.output.push(line));
    this.processes.push(proc);
    await waitFor(
      `${proc.label} to answer /readyz 200`,
      async () => {
        if (!proc.alive) throw new Error(`${proc.label} exited before it was ready`);
        return (await proc.status('/readyz')) === 200;
      },
      this.options.readyTimeoutMs ?? 90_000,
      100,
    );
    this.output.push(`[${proc.label}] ready after ${Date.now() - spawnedAt} ms`);
    return proc;
  }

  /** Stops every process, then deletes the NATS streams and drops the database. */
  async stop(): Promise<void> {
    // Every step bounded: a cleanup that hangs must not keep jest from finishing.
    const bounded = async (step: Promise<unknown>) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((done) => (timer = setTimeout(done, STOP_GRACE_MS * 3)));
      await Promise.race([step.catch(() => undefined), timeout]);
      clearTimeout(timer);
    };
    await bounded(Promise.all(this.processes.map((p) => p.stop())));
    await bounded(this.target.close());
    await bounded(this.postgresProxy?.close() ?? Promise.resolve());
    await bounded(this.natsProxy?.close() ?? Promise.resolve());
    if (process.env.CRONICORN_E2E_KEEP_DATA === 'true') {
      // Debugging aid: leave the database and streams for a look after the run.
      process.stderr.write(`kept ${this.db.url} and namespace ${this.nats.names.namespace}\n`);
      await bounded(this.nats.nc.close());
      await bounded(this.db.pool.end());
      return;
    }
    await bounded(this.nats.cleanup());
    await bounded(this.db.drop());
  }

  /** The last `lines` log lines of every process, for a failure message. */
  logs(lines = Number(process.env.CRONICORN_E2E_LOG_LINES ?? 60)): string {
    return this.output
      .slice(-lines)
      .map((line) => (line.length > 500 ? `${line.slice(0, 500)}…` : line))
      .join('\n');
  }

  /** `error` with the apps' recent logs appended to its message. */
  explain(error: unknown): Error {
    const failure = error instanceof Error ? error : new Error(String(error));
    failure.message += `\n--- app logs (last lines) ---\n${this.logs() || '(none)'}`;
    return failure;
  }

  /** Runs a test body; a failure carries the apps' logs. */
  async withLogs(body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** `POST /v1/tenants` with the admin key. */
  async createTenant(name = `tenant-${randomBytes(3).toString('hex')}`): Promise<TenantClient> {
    // Same ride-out of a 503 as TenantClient.command.
    const headers = { 'idempotency-key': randomBytes(12).toString('hex') };
    const create = () =>
      apiRequest<{ tenantId: string; apiKey: string }>(this.apiUrl, 'POST', '/v1/tenants', {
        apiKey: this.adminKey,
        body: { name },
        headers,
      });
    let answer = await create();
    for (const deadline = Date.now() + 15_000; answer.status === 503 && Date.now() < deadline;) {
      await delay(250);
      answer = await create();
    }
    const { tenantId, apiKey } = expectStatus(answer, 201, 'POST /v1/tenants');
    return new TenantClient(this.apiUrl, tenantId, apiKey);
  }

  /** Messages in the dispatch work queue (handed out and not yet acknowledged). */
  async queuedWorkItems(): Promise<number> {
    return (await this.nats.jsm.streams.info(this.nats.names.dispatchStream)).state.messages;
  }
}
