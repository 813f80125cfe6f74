// `npm run demo`: a local target service plus a tenant, a job and four endpoints against it,
// created through the REST API of a running Cronicorn; then one line per run, live, until
// Ctrl+C. It talks to the system through the public contract only (DESIGN §6).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startDemoTarget } from './lib/demo-target';
import { bold, paint } from './lib/output';

const BASE_URL = (process.env.CRONICORN_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');
const POLL_MS = 1_000;
const QUIET_HINT_MS = 20_000;

interface RunView {
  id: string;
  status: 'running' | 'success' | 'failed' | 'timeout';
  startedAt: string;
  finishedAt: string | null;
  lateMs: number;
  durationMs: number | null;
  httpStatus: number | null;
  attempts: number | null;
  attempt: number;
  error: string | null;
  response: { snippet: string; bytes: number; truncated: boolean } | null;
  retryAfterMs: number | null;
}

interface DemoEndpoint {
  label: string;
  id: string;
  seen: Set<string>;
  counts: Record<RunView['status'], number>;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function adminKey(): string {
  if (process.env.ADMIN_API_KEY) return process.env.ADMIN_API_KEY;
  for (const dir of [resolve(__dirname, '..'), process.cwd()]) {
    const file = join(dir, '.data', 'admin-api-key');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  }
  throw new Error(
    'No admin API key: set ADMIN_API_KEY, or run `npm start` first (it keeps the key in .data/admin-api-key).',
  );
}

async function api<T>(
  method: string,
  path: string,
  key: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: {
      'x-api-key': key,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (!res.ok) throw new ApiError(res.status, `${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : {}) as T;
}

async function reachable(): Promise<boolean> {
  try {
    const res = await fetch(`${BASE_URL}/healthz`, { signal: AbortSignal.timeout(3_000) });
    return res.ok;
  } catch {
    return false;
  }
}

const clock = (iso: string | null) => (iso ? new Date(iso) : new Date()).toTimeString().slice(0, 8);
const ms = (value: number | null) =>
  value === null ? '—' : value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${value} ms`;
const oneLine = (text: string, max = 70) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

const STATUS_STYLE: Record<RunView['status'], [string, number]> = {
  success: ['✓ success', 32],
  failed: ['✗ failed ', 31],
  timeout: ['⧗ timeout', 33],
  running: ['… running', 90],
};

function runLine(endpoint: DemoEndpoint, run: RunView): string {
  const [word, color] = STATUS_STYLE[run.status];
  const http = run.httpStatus === null ? 'no response' : `HTTP ${run.httpStatus}`;
  // `HTTP 500` as the error says no more than the status column: show what the target said.
  const detail =
    run.response && (!run.error || /^HTTP \d+$/.test(run.error)) ? run.response.snippet : (run.error ?? '');
  const extras = [
    run.attempts !== null && run.attempts > 1 ? `${run.attempts} HTTP attempts` : null,
    run.attempt > 1 ? `dispatch attempt ${run.attempt}` : null,
    run.retryAfterMs !== null ? `Retry-After ${ms(run.retryAfterMs)}` : null,
  ].filter(Boolean);
  return [
    paint(90, clock(run.finishedAt)),
    bold(endpoint.label.padEnd(6)),
    paint(color, word),
    http.padEnd(11),
    ms(run.durationMs).padStart(8),
    paint(90, `late ${ms(run.lateMs)}`.padEnd(12)),
    extras.length ? paint(35, `(${extras.join(', ')}) `) : '',
    paint(90, oneLine(detail)),
  ].join('  ');
}

async function main(): Promise<void> {
  const port = Number(process.env.DEMO_TARGET_PORT?.trim() || 0);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(
      `DEMO_TARGET_PORT must be a port number from 0 to 65535, got "${process.env.DEMO_TARGET_PORT}"`,
    );
  if (!(await reachable())) {
    console.error(
      `Cronicorn does not answer at ${BASE_URL} (set CRONICORN_URL if it runs elsewhere).\n` +
        'Start it in another terminal with loopback targets allowed, since the demo target runs on this machine:\n\n' +
        '  ALLOW_PRIVATE_TARGETS=true npm start\n' +
        '  # or, narrower: ALLOWED_TARGET_ADDRESSES=127.0.0.1 npm start\n',
    );
    process.exit(1);
  }
  const admin = adminKey();
  const target = await startDemoTarget(port);
  console.log(bold('Cronicorn demo'));
  console.log(`  API     ${BASE_URL}`);
  console.log(`  target  ${target.baseUrl}  (/health /echo /slow /flaky)`);
  console.log(
    paint(
      33,
      '  The target is on 127.0.0.1: the dispatcher must run with ALLOW_PRIVATE_TARGETS=true\n' +
        '  (or ALLOWED_TARGET_ADDRESSES=127.0.0.1), otherwise every run fails with "target refused".',
    ),
  );

  const stamp = new Date().toISOString().slice(0, 19).replace('T', ' ');
  let tenant: { tenantId: string; apiKey: string };
  try {
    tenant = await api('POST', '/v1/tenants', admin, { name: `Demo ${stamp}` });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      throw new Error('The admin API key was refused: set ADMIN_API_KEY to the key `npm start` printed.');
    }
    throw error;
  }
  const key = tenant.apiKey;
  const job = await api<{ jobId: string; position: string | null }>('POST', '/v1/jobs', key, {
    name: 'Demo job',
    description: 'Endpoints of the local demo target: a health check, an echo, a slow and a flaky call.',
  });
  const specs = [
    { label: 'health', body: { name: 'Health check', url: `${target.baseUrl}/health`, intervalMs: 2_000 } },
    {
      label: 'echo',
      body: {
        name: 'Echo with a secret header',
        description: 'POSTs a JSON body; the authorization header is stored encrypted and never shown.',
        url: `${target.baseUrl}/echo`,
        method: 'POST',
        headers: { 'x-demo': 'cronicorn' },
        secretHeaders: { authorization: `Bearer demo-${Math.random().toString(36).slice(2)}` },
        body: { hello: 'cronicorn', at: stamp },
        intervalMs: 3_000,
      },
    },
    {
      label: 'slow',
      body: {
        name: 'Slow report',
        url: `${target.baseUrl}/slow?ms=1500`,
        intervalMs: 5_000,
        timeoutMs: 10_000,
      },
    },
    {
      label: 'flaky',
      body: {
        name: 'Flaky upstream',
        description: 'Fails about 40% of the time; the governor backs off while it fails.',
        url: `${target.baseUrl}/flaky`,
        intervalMs: 3_000,
        maxIntervalMs: 30_000,
      },
    },
  ];
  const endpoints: DemoEndpoint[] = [];
  let stopping = false;
  // From the job's creation on, Ctrl+C or a failed setup archives it: its endpoints must not
  // keep calling a target that is gone.
  const stop = async (exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${bold('Summary')}`);
    for (const endpoint of endpoints) {
      const { success, failed, timeout } = endpoint.counts;
      console.log(`  ${endpoint.label.padEnd(6)}  ${success} ok, ${failed} failed, ${timeout} timed out`);
    }
    try {
      await api('DELETE', `/v1/jobs/${job.jobId}`, key);
      console.log(`  job ${job.jobId} archived: its endpoints no longer run.`);
    } catch (error) {
      console.log(`  could not archive job ${job.jobId}: ${(error as Error).message}`);
    }
    await target.close();
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  let minPosition: string | null = job.position;
  try {
    for (const spec of specs) {
      if (stopping) return;
      const created = await api<{ endpointId: string; position: string | null }>(
        'POST',
        `/v1/jobs/${job.jobId}/endpoints`,
        key,
        spec.body,
      );
      minPosition = created.position ?? minPosition;
      endpoints.push({
        label: spec.label,
        id: created.endpointId,
        seen: new Set(),
        counts: { success: 0, failed: 0, timeout: 0, running: 0 },
      });
    }
  } catch (error) {
    console.error(`could not create the demo endpoints: ${(error as Error).message}`);
    return stop(1);
  }
  console.log(`  tenant  ${tenant.tenantId}   job ${job.jobId}`);
  console.log(
    `  key     ${key}   (try: curl -H 'x-api-key: ${key}' ${BASE_URL}/v1/endpoints?jobId=${job.jobId})`,
  );
  console.log(`\n${bold('Runs, live')} ${paint(90, '(Ctrl+C stops the demo and archives its job)')}\n`);

  let refusalExplained = false;
  let apiDown = false;
  let lastRunAt = Date.now();
  let quietHintShown = false;

  while (!stopping) {
    const fresh: Array<[DemoEndpoint, RunView]> = [];
    for (const endpoint of endpoints) {
      let page: { items: RunView[] };
      try {
        page = await api('GET', `/v1/endpoints/${endpoint.id}/runs?limit=20`, key, undefined, {
          ...(minPosition ? { 'x-min-position': minPosition } : {}),
        });
        if (apiDown) console.log(paint(32, `  (API at ${BASE_URL} answers again)`));
        apiDown = false;
      } catch (error) {
        if (!apiDown && !stopping)
          console.log(paint(33, `  (cannot read runs: ${(error as Error).message})`));
        apiDown = true;
        continue;
      }
      for (const run of page.items) {
        if (run.status !== 'running' && !endpoint.seen.has(run.id)) fresh.push([endpoint, run]);
      }
    }
    // One round covers every endpoint: print its runs in the order they finished.
    fresh.sort(([, a], [, b]) => (a.finishedAt ?? '').localeCompare(b.finishedAt ?? ''));
    for (const [endpoint, run] of fresh) {
      endpoint.seen.add(run.id);
      endpoint.counts[run.status] += 1;
      lastRunAt = Date.now();
      if (stopping) break;
      console.log(runLine(endpoint, run));
      if (!refusalExplained && run.error?.includes('target refused')) {
        refusalExplained = true;
        console.log(
          paint(
            33,
            '  → the dispatcher refuses loopback targets. Restart Cronicorn with ALLOW_PRIVATE_TARGETS=true\n' +
              '    (or ALLOWED_TARGET_ADDRESSES=127.0.0.1) to let it call the demo target.',
          ),
        );
      }
    }
    if (!quietHintShown && Date.now() - lastRunAt > QUIET_HINT_MS) {
      quietHintShown = true;
      console.log(
        paint(
          33,
          '  (no runs yet: are the scheduler, dispatcher and projector running? `npm start` runs them all)',
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
