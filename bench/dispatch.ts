// `npm run bench:dispatch`: the scheduling loop under load. Starts the five apps from dist/
// against its own database and NATS namespace, creates N endpoints at interval I through the
// REST API against a local keep-alive target, lets them run for T seconds, then measures from
// the event log: runs/s, lateness, lost and duplicate runs, events/s, projection lag, and
// CPU / peak RSS per process. Writes bench/results/dispatch-<timestamp>.json and a row of the
// table in docs/performance.md. Every phase is bounded; the database and streams are dropped.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { jetstreamManager, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { NatsNames } from '@cronicorn/events';
import { connectNats, provisionStreams, silentLogger } from '@cronicorn/messaging';
import {
  createPool,
  ensureDatabase,
  quoteIdentifier,
  runMigrations,
  SecretBox,
  withDatabaseName,
} from '@cronicorn/platform';
import { Client, Pool } from 'pg';
import { analyse, consumerLag, LagProbe, relayLag, RunResults, tailLag } from './lib/analysis';
import { Api, boundedAll } from './lib/api';
import { APP_NAMES, BenchApp, freePort, metricValue } from './lib/apps';
import { BenchOptions, OptionsError, parseOptions, usage } from './lib/options';
import { machineBlock, resultRow, BenchResult, updatePerformanceDoc } from './lib/report';
import {
  machineInfo,
  pidsByCommandLine,
  pidsByName,
  processTree,
  ProcessGroup,
  ProcessSampler,
} from './lib/proc';
import { PrivateNats, PrivatePostgres } from './lib/servers';
import { PostgresSampler, StandInVacuum } from './lib/postgres';
import { CountingTarget } from './lib/target';
import { CommandProbe } from './lib/command-probe';

const DIST_ROOT = resolve(__dirname, '..');
/** Environment the apps read for tuning, passed through and recorded with the result. */
const TUNING_VARIABLE =
  /^(DATABASE_POOL_SIZE|DISPATCHER_|SCHEDULER_|PROJECTOR_|WEBHOOK_|AI_|API_|UV_THREADPOOL_SIZE|NODE_OPTIONS)/;
const PROGRESS_EVERY_MS = 5_000;
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 15_000;
const CLEANUP_STEP_MS = 20_000;

class BenchAborted extends Error {}

const started = Date.now();
const stamp = () => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s]`;
const say = (line: string) => process.stdout.write(`${stamp()} ${line}\n`);
const fmt = (n: number) => n.toLocaleString('en-US');

const abort = new AbortController();
let phase = 'starting';
const cleanups: Array<{ what: string; run: () => Promise<unknown> }> = [];
const apps: BenchApp[] = [];

function checkpoint(): void {
  if (abort.signal.aborted) throw new BenchAborted(String(abort.signal.reason ?? 'aborted'));
  const crashed = apps.find((app) => app.crashed);
  if (crashed) {
    const how = crashed.exit?.signal ?? `code ${crashed.exit?.code}`;
    throw new BenchAborted(
      `${crashed.name} exited (${how}) during "${phase}"; last log lines:\n${crashed.tail()}`,
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      abort.signal.removeEventListener('abort', done);
      resolve();
    }
    abort.signal.addEventListener('abort', done, { once: true });
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000}s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

let cleaningUp: Promise<void> | null = null;

function cleanup(): Promise<void> {
  cleaningUp ??= runCleanups();
  return cleaningUp;
}

async function runCleanups(): Promise<void> {
  for (const step of cleanups.reverse()) {
    try {
      await withTimeout(step.run(), CLEANUP_STEP_MS, step.what);
    } catch (error) {
      say(`cleanup: ${step.what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  cleanups.length = 0;
}

async function forceExit(reason: string): Promise<void> {
  say(`${reason}: cleaning up and exiting`);
  await Promise.race([cleanup(), new Promise((resolve) => setTimeout(resolve, 60_000))]);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

async function prepareDatabase(options: BenchOptions, name: string): Promise<{ url: string; pool: Pool }> {
  const url = withDatabaseName(options.databaseUrl, name);
  await withTimeout(ensureDatabase(url), 30_000, 'creating the database');
  cleanups.push({
    what: `dropping database ${name}`,
    run: async () => {
      if (options.keep) return say(`kept database ${name} (--keep)`);
      const admin = new Client({ connectionString: withDatabaseName(url, 'postgres') });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  });
  const pool = createPool(url, { max: 4, applicationName: 'cronicorn-bench' });
  cleanups.push({ what: 'closing the bench pool', run: () => pool.end() });
  await withTimeout(runMigrations(pool), 60_000, 'migrations');
  return { url, pool };
}

async function prepareNats(options: BenchOptions, names: NatsNames): Promise<NatsConnection> {
  const nc = await withTimeout(
    connectNats(options.natsUrl, 'cronicorn-bench', { logger: silentLogger, maxReconnectAttempts: 0 }),
    15_000,
    'connecting to NATS',
  );
  cleanups.push({ what: 'closing NATS', run: () => nc.close() });
  const jsm: JetStreamManager = await jetstreamManager(nc);
  cleanups.push({
    what: 'deleting the streams',
    run: async () => {
      if (options.keep) return say(`kept streams ${names.eventsStream}, ${names.dispatchStream} (--keep)`);
      for (const stream of [names.eventsStream, names.dispatchStream])
        await jsm.streams.delete(stream).catch(() => false);
    },
  });
  await withTimeout(provisionStreams(jsm, names), 30_000, 'provisioning streams');
  return nc;
}

async function startApps(env: NodeJS.ProcessEnv, logsDir: string, relayIn: string): Promise<void> {
  for (const name of APP_NAMES) {
    const app = new BenchApp(
      name,
      await freePort(),
      join(logsDir, `${name}.log`),
      BenchApp.mainOf(DIST_ROOT, name),
    );
    apps.push(app);
  }
  cleanups.push({
    what: 'stopping the apps',
    run: () => Promise.all(apps.map((app) => app.stop(STOP_GRACE_MS))),
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const first = apps.find((app) => app.name === relayIn);
  if (relayIn && !first) throw new OptionsError(`--relay-in must be one of ${APP_NAMES.join(', ')}`);
  if (first) {
    first.start(process.cwd(), env);
    while (metricValue(await first.metrics(), 'cronicorn_relay_leader') !== 1) {
      checkpoint();
      if (Date.now() > deadline) throw new BenchAborted(`${first.name}'s relay did not become the leader`);
      await sleep(250);
    }
    say(`${first.name} holds the outbox relay (--relay-in)`);
  }
  for (const app of apps) if (app !== first) app.start(process.cwd(), env);
  const pending = new Set(apps);
  while (pending.size > 0) {
    checkpoint();
    for (const app of [...pending]) if ((await app.status('/readyz')) === 200) pending.delete(app);
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      const names = [...pending].map((app) => app.name);
      throw new BenchAborted(
        `not ready after ${READY_TIMEOUT_MS / 1000}s: ${names.join(', ')}; last log lines of ${names[0]}:\n${[...pending][0].tail()}`,
      );
    }
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

interface Load {
  api: Api;
  jobId: string;
  endpointIds: string[];
  createS: number;
}

async function createLoad(options: BenchOptions, admin: Api, target: CountingTarget): Promise<Load> {
  const tenant = await admin.request<{ tenantId: string; apiKey: string }>('POST', '/v1/tenants', {
    name: `bench ${new Date().toISOString()}`,
  });
  const api = admin.withKey(tenant.apiKey);
  const job = await api.request<{ jobId: string }>('POST', '/v1/jobs', {
    name: 'bench:dispatch',
    description: `${options.endpoints} endpoints every ${options.intervalMs} ms`,
  });
  const endpointIds: string[] = new Array<string>(options.endpoints);
  const t0 = Date.now();
  let created = 0;
  const progress = setInterval(() => {
    const s = (Date.now() - t0) / 1000;
    say(`creating endpoints: ${fmt(created)}/${fmt(options.endpoints)} (${(created / s).toFixed(0)}/s)`);
  }, PROGRESS_EVERY_MS);
  try {
    await boundedAll(options.endpoints, options.concurrency, async (i) => {
      checkpoint();
      const res = await api.request<{ endpointId: string }>('POST', `/v1/jobs/${job.jobId}/endpoints`, {
        name: `bench-${i}`,
        url: target.url(i),
        intervalMs: options.intervalMs,
        timeoutMs: 10_000,
      });
      endpointIds[i] = res.endpointId;
      created += 1;
    });
  } finally {
    clearInterval(progress);
  }
  const createS = (Date.now() - t0) / 1000;
  say(`created ${fmt(created)} endpoints in ${createS.toFixed(1)}s (${(created / createS).toFixed(0)}/s)`);
  return { api, jobId: job.jobId, endpointIds, createS };
}

/** JetStream backlog of every durable consumer of the bench's streams, sampled each progress tick. */
class BacklogSampler {
  private readonly stats = new Map<
    string,
    { samples: number; pendingSum: number; maxPending: number; maxAckPending: number }
  >();

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly streams: readonly string[],
  ) {}

  async sample(): Promise<void> {
    for (const stream of this.streams) {
      try {
        for await (const info of this.jsm.consumers.list(stream)) {
          const key = `${stream}/${info.name}`;
          const entry = this.stats.get(key) ?? { samples: 0, pendingSum: 0, maxPending: 0, maxAckPending: 0 };
          entry.samples += 1;
          entry.pendingSum += info.num_pending;
          entry.maxPending = Math.max(entry.maxPending, info.num_pending);
          entry.maxAckPending = Math.max(entry.maxAckPending, info.num_ack_pending);
          this.stats.set(key, entry);
        }
      } catch {
        // a missed sample changes nothing
      }
    }
  }

  report(): Record<string, { meanPending: number; maxPending: number; maxAckPending: number }> {
    return Object.fromEntries(
      [...this.stats.entries()].map(([key, entry]) => [
        key,
        {
          meanPending: Math.round(entry.pendingSum / Math.max(1, entry.samples)),
          maxPending: entry.maxPending,
          maxAckPending: entry.maxAckPending,
        },
      ]),
    );
  }
}

/** Runs started since `cursor` and their p99 lateness: the progress line's numbers. */
async function recentStarts(
  pool: Pool,
  cursor: string,
): Promise<{ n: number; p99: number | null; cursor: string }> {
  const { rows } = await pool.query<{ n: number; p99: number | null; max: string | null }>(
    `SELECT count(*)::int AS n, max(position)::text AS max,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY (data->>'lateMs')::bigint)::float8 AS p99
       FROM events WHERE position > $1::bigint AND type = 'RunStarted'`,
    [cursor],
  );
  return { n: rows[0].n, p99: rows[0].p99, cursor: rows[0].max ?? cursor };
}

async function runWindow(
  options: BenchOptions,
  pool: Pool,
  sampler: ProcessSampler,
  probe: LagProbe,
  postgres: PostgresSampler,
  backlog: BacklogSampler,
): Promise<{ fromMs: number; toMs: number }> {
  let { cursor } = await recentStarts(pool, '0');
  let total = 0;
  const tick = async (label: string, sinceMs: number) => {
    await backlog.sample();
    const recent = await recentStarts(pool, cursor).catch((error: unknown) => {
      say(`${label} (progress query failed: ${error instanceof Error ? error.message : String(error)})`);
      return null;
    });
    if (!recent) return;
    cursor = recent.cursor;
    total += recent.n;
    const seconds = Math.max(0.001, (Date.now() - sinceMs) / 1000);
    const cpu = sampler.cpuBetween(sinceMs, Date.now());
    const lag = probe.latestMs === null ? '—' : `${fmt(probe.latestMs)} ms`;
    say(
      `${label} runs ${fmt(total)} (${(recent.n / seconds).toFixed(0)}/s), lateness p99 ${
        recent.p99 === null ? '—' : `${fmt(recent.p99)} ms`
      }, projection lag ${lag}, CPU ${cpu.machine.toFixed(0)}%`,
    );
  };
  if (options.warmupS > 0) {
    say(`warm-up: ${options.warmupS}s of load before the window opens`);
    const until = Date.now() + options.warmupS * 1000;
    while (Date.now() < until) {
      const since = Date.now();
      await sleep(Math.min(PROGRESS_EVERY_MS, until - Date.now()));
      checkpoint();
      await tick('warm-up:', since);
    }
  }
  await postgres.start();
  const fromMs = Date.now();
  const toMs = fromMs + options.durationS * 1000;
  say(`window open: ${options.durationS}s`);
  while (Date.now() < toMs) {
    const since = Date.now();
    await sleep(Math.min(PROGRESS_EVERY_MS, toMs - Date.now()));
    checkpoint();
    await tick(
      `${String(Math.round((Date.now() - fromMs) / 1000)).padStart(4)}s/${options.durationS}s:`,
      since,
    );
  }
  await postgres.stop();
  // The runs due at the window's end start seconds later under load: archiving the job now would
  // leave the latest of them out of the lateness figures (they would never start).
  say(`window closed: the load runs ${options.lostAfterMs / 1000}s more for the runs due in it to start`);
  await sleep(options.lostAfterMs);
  checkpoint();
  return { fromMs, toMs };
}

/**
 * After the job is archived: waits until every started run has finished, no run has started
 * for 3 s, and the projector has applied the newest event. Bounded by `drainTimeoutS`.
 */
async function drain(
  options: BenchOptions,
  pool: Pool,
  probe: LagProbe,
  stoppedAt: number,
): Promise<{ drained: boolean; drainS: number; caughtUpAfterStopS: number | null }> {
  const deadline = Date.now() + options.drainTimeoutS * 1000;
  let lastStart: string | null = null;
  let lastStartChangedAt = Date.now();
  let caughtUpAfterStopS: number | null = null;
  while (Date.now() < deadline) {
    checkpoint();
    const { rows } = await pool.query<{ open: number; last: string | null }>(
      `SELECT (SELECT count(DISTINCT stream_id) FROM events WHERE type = 'RunStarted')
            - (SELECT count(DISTINCT stream_id) FROM events WHERE type = 'RunFinished') AS open,
              (SELECT max(position)::text FROM events WHERE type = 'RunStarted') AS last`,
    );
    const { open, last } = rows[0];
    if (last !== lastStart) {
      lastStart = last;
      lastStartChangedAt = Date.now();
    }
    const caughtUp = await probe.caughtUp();
    if (caughtUp && caughtUpAfterStopS === null) caughtUpAfterStopS = (Date.now() - stoppedAt) / 1000;
    if (!caughtUp) caughtUpAfterStopS = null;
    const quiet = Date.now() - lastStartChangedAt >= 3_000;
    if (Number(open) <= 0 && quiet && caughtUp) {
      return { drained: true, drainS: (Date.now() - stoppedAt) / 1000, caughtUpAfterStopS };
    }
    say(
      `draining: ${open} run(s) in flight, ${quiet ? 'no new starts' : 'runs still starting'}, projector ${caughtUp ? 'caught up' : 'behind'}`,
    );
    await sleep(1_000);
  }
  say(`drain did not finish within ${options.drainTimeoutS}s; measuring what is there`);
  return { drained: false, drainS: (Date.now() - stoppedAt) / 1000, caughtUpAfterStopS };
}

const METRICS: Record<string, Array<[string, string, string?]>> = {
  scheduler: [
    ['plans', 'cronicorn_scheduler_plans_total'],
    ['dispatched', 'cronicorn_scheduler_runs_dispatched_total'],
    ['skipped', 'cronicorn_scheduler_runs_skipped_total'],
    ['missed', 'cronicorn_scheduler_runs_missed_total'],
    ['duplicatePublishes', 'cronicorn_scheduler_duplicate_publishes_total'],
    ['publishFailures', 'cronicorn_scheduler_publish_failures_total'],
  ],
  dispatcher: [
    ['runs', 'cronicorn_dispatcher_runs_total'],
    ['deliveriesFinished', 'cronicorn_dispatcher_deliveries_total', 'outcome="finished"'],
    ['deliveriesAlreadyFinished', 'cronicorn_dispatcher_deliveries_total', 'outcome="already_finished"'],
    ['deliveriesHeldElsewhere', 'cronicorn_dispatcher_deliveries_total', 'outcome="held_elsewhere"'],
    ['deliveriesSuperseded', 'cronicorn_dispatcher_deliveries_total', 'outcome="superseded"'],
    ['deliveriesFailed', 'cronicorn_dispatcher_deliveries_total', 'outcome="failed"'],
  ],
  projector: [['events', 'cronicorn_projector_events_total']],
};

async function scrapeMetrics(): Promise<Record<string, Record<string, number | null>>> {
  const out: Record<string, Record<string, number | null>> = {};
  await Promise.all(
    apps.map(async (app) => {
      const text = await app.metrics();
      const values: Record<string, number | null> = {
        cpuSeconds: metricValue(text, 'cronicorn_process_cpu_seconds_total'),
        eventLoopLagP99S: metricValue(text, 'cronicorn_nodejs_eventloop_lag_p99_seconds'),
        eventLoopLagMaxS: metricValue(text, 'cronicorn_nodejs_eventloop_lag_max_seconds'),
        relayLeader: metricValue(text, 'cronicorn_relay_leader'),
        relayPublished: metricValue(text, 'cronicorn_relay_published_events_total'),
      };
      for (const [key, name, labels] of METRICS[app.name] ?? [])
        values[key] = metricValue(text, name, labels);
      out[app.name] = values;
    }),
  );
  return out;
}

/** The commit measured, and the files that differed from it (read-only git commands). */
function gitState(root: string): { commit: string | null; changed: string[] } {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: root, encoding: 'utf8', timeout: 10_000 });
  const head = git('rev-parse', 'HEAD');
  const status = git('status', '--porcelain', '--untracked-files=no');
  return {
    commit: head.status === 0 ? head.stdout.trim() : null,
    changed:
      status.status === 0
        ? status.stdout
            .split('\n')
            .filter(Boolean)
            .map((line) => line.slice(3))
        : [],
  };
}

/** CPU of the groups that are disjoint (the bench-db backends are a subset of `postgres`). */
function ourCpu(groups: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(groups).filter(([name]) => name !== 'postgres (bench db)'));
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

function printSummary(result: BenchResult, file: string | null): void {
  const r: RunResults = result.results;
  const l = r.latenessMs;
  const lag = result.projectionLagMs;
  const lines = [
    '',
    `bench:dispatch — ${result.options.endpoints} endpoints × ${result.options.intervalMs} ms × ${result.options.durationS} s`,
    `  runs/s            ${r.runsPerSecond} started (ideal ${r.idealRunsPerSecond}), ${r.runsFinishedPerSecond} finished`,
    `  lateness ms       p50 ${l.p50} · p95 ${l.p95} · p99 ${l.p99} · max ${l.max}  (${fmt(l.count)} runs)`,
    r.latenessBreakdownMs
      ? `    of which       fire p99 ${r.latenessBreakdownMs.fire.p99} · hand-off p99 ${r.latenessBreakdownMs.handOff.p99}`
      : '    (no breakdown: scheduler_runs unreadable)',
    `    vs the slot    p50 ${r.latenessVsSlotMs.p50} · p95 ${r.latenessVsSlotMs.p95} · p99 ${r.latenessVsSlotMs.p99} · max ${r.latenessVsSlotMs.max} (start − previous start − interval)`,
    `  start gaps ms     p50 ${r.startGapMs.p50} · p99 ${r.startGapMs.p99} · max ${r.startGapMs.max} (between consecutive starts of one endpoint)`,
    `  lost runs         ${r.plans.lost} of ${fmt(r.plans.eligible)} planned (${JSON.stringify(r.plans.outcomes)})`,
    `  duplicate runs    ${r.duplicates.total} (${JSON.stringify(r.duplicates)})`,
    `  events/s          ${r.eventsPerSecond}  ${JSON.stringify(r.eventsByType)}`,
    `  event lag ms      ${Object.entries(result.eventLagMs)
      .map(
        ([name, lag]) =>
          `${name} p50 ${lag.p50} · p99 ${lag.p99} · max ${lag.max}${lag.timeouts ? ` (+${lag.timeouts} > 60 s)` : ''}${
            lag.unfinished ? ` (+${lag.unfinished} unanswered at the end)` : ''
          }`,
      )
      .join('; ')}`,
    `  projection lag ms p50 ${lag.p50} · p99 ${lag.p99} · max ${lag.max}${lag.timeouts ? ` · ${lag.timeouts} probe(s) > 60 s` : ''}${
      lag.unfinished ? ` · ${lag.unfinished} unanswered at the end` : ''
    }; caught up ${
      lag.caughtUpAfterStopS === null ? 'never' : `${lag.caughtUpAfterStopS.toFixed(1)} s`
    } after the load stopped`,
    `  pause/resume ms   p50 ${result.commandFoldMs.p50} · p99 ${result.commandFoldMs.p99} · max ${result.commandFoldMs.max} (${result.commandFoldMs.count} folded${
      result.commandFoldMs.timeouts ? `, ${result.commandFoldMs.timeouts} > 60 s` : ''
    }; API answer → scheduler row; in the warm-up: ${result.commandFoldMs.warmup?.count ?? 0} · max ${result.commandFoldMs.warmup?.max ?? 0})`,
    `  CPU % (window)    machine ${result.cpuPercent.machine}% of ${result.machine.cpus} cores (steal ${result.cpuPercent.steal}%); ${Object.entries(
      result.cpuPercent.groups,
    )
      .map(([name, value]) => `${name} ${value}`)
      .join(', ')}`,
    `                    others (outside the bench) ${result.cpuPercent.othersPercent}% (before the load: ${result.cpuPercent.othersBeforePercent}%)`,
    result.postgres
      ? `  postgres          ${result.postgres.commitsPerSecond} commits/s; busiest: ${result.postgres.activeByStatement
          .slice(0, 3)
          .map((entry) => `${entry.share}% ${entry.app}: ${entry.statement.slice(0, 60)}`)
          .join(' | ')}`
      : '',
    result.postgres
      ? `  oldest write tx   bench db p99 ${result.postgres.oldestWriteTransactionMs.ours.p99} ms; other databases p99 ${result.postgres.oldestWriteTransactionMs.others.p99} ms, max ${result.postgres.oldestWriteTransactionMs.others.max} ms (> 1 s in ${result.postgres.oldestWriteTransactionMs.othersOver1sShare}% of samples)`
      : '',
    result.costPerRun
      ? `  cost per run      ${result.costPerRun.cpuMs.total} CPU ms (${Object.entries(
          result.costPerRun.cpuMs,
        )
          .filter(([name]) => name !== 'total')
          .map(([name, value]) => `${name} ${value}`)
          .join(', ')}), ${result.costPerRun.commits} commits, ${result.costPerRun.events} events`
      : '',
    `  JetStream backlog ${Object.entries(result.consumerBacklog)
      .map(
        ([name, b]) =>
          `${name.split('/').pop()} mean ${b.meanPending} max ${b.maxPending} (ack-pending max ${b.maxAckPending})`,
      )
      .join('; ')}`,
    result.postgres
      ? `  connections       ${Object.entries(result.postgres.connectionsByApp)
          .map(
            ([app, states]) =>
              `${app.replace('cronicorn-', '')} ${Object.entries(states)
                .map(([state, n]) => `${n} ${state}`)
                .join('/')}`,
          )
          .join('; ')}`
      : '',
    `  peak RSS MB       ${Object.entries(result.peakRssBytes)
      .map(([name, bytes]) => `${name} ${Math.round(bytes / 2 ** 20)}`)
      .join(', ')}`,
    ...Object.entries(result.appProblems)
      .filter(([, problems]) => problems.warnings + problems.errors > 0)
      .map(
        ([name, problems]) =>
          `  LOG PROBLEMS      ${name}: ${problems.warnings} warnings, ${problems.errors} errors; ${problems.top
            .map((entry) => `${entry.count}× ${entry.message}`)
            .join(' | ')}`,
      ),
    result.crashes.length ? `  APP EXITS         ${result.crashes.join('; ')}` : '',
    `  relay            published by ${Object.entries(result.appMetrics)
      .filter(([, values]) => (values.relayPublished ?? 0) > 0)
      .map(([name, values]) => `${name} ${values.relayPublished}`)
      .join(', ')}`,
    `  app logs, JSON    ${result.logsDir}`,
    file
      ? `  result            ${file} (and a row in docs/performance.md)`
      : '  result            not written (--no-write)',
  ];
  for (const line of lines.filter(Boolean)) process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  if (!options) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const root = process.cwd();
  const startedAt = new Date();
  const id = `${startedAt.toISOString().slice(0, 19).replace(/[-:T]/g, '')}_${randomBytes(3).toString('hex')}`;
  const budgetS =
    120 +
    Math.ceil(options.endpoints / 5) +
    options.warmupS +
    options.durationS +
    options.drainTimeoutS +
    120;
  const watchdog = setTimeout(
    () => abort.abort(`the bench exceeded its ${budgetS}s budget in "${phase}"`),
    budgetS * 1000,
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (abort.signal.aborted) void forceExit(`${signal} received again`);
      else abort.abort(`${signal} received`);
    });
  }
  // A phase stuck in a call that never returns must not keep the bench (and its apps) alive.
  abort.signal.addEventListener('abort', () => {
    setTimeout(() => void forceExit('the bench did not stop within 30s of being aborted'), 30_000).unref();
  });
  say(
    `bench:dispatch ${options.endpoints} endpoints × ${options.intervalMs} ms for ${options.durationS}s (+${options.warmupS}s warm-up); budget ${budgetS}s`,
  );

  phase = 'prepare';
  const machine = machineInfo();
  const loadAverageAtStart = loadavg();
  const logsDir = mkdtempSync(join(tmpdir(), `cronicorn-bench-${id}-`));
  let own: { postgres: PrivatePostgres; nats: PrivateNats } | null = null;
  if (options.ownServers) {
    const parent = join(tmpdir(), 'cronicorn-bench-servers');
    const postgresServer = new PrivatePostgres(parent, await freePort());
    cleanups.push({ what: 'stopping the private Postgres', run: async () => postgresServer.stop() });
    postgresServer.start();
    const natsServer = new PrivateNats(parent, await freePort(), join(logsDir, 'nats-server.log'));
    cleanups.push({ what: 'stopping the private nats-server', run: () => natsServer.stop() });
    await withTimeout(natsServer.start(), 30_000, 'starting nats-server');
    own = { postgres: postgresServer, nats: natsServer };
    options.databaseUrl = postgresServer.url;
    options.natsUrl = natsServer.url;
    say(`private servers: Postgres :${postgresServer.port}, NATS ${natsServer.url}`);
  }
  const dbName = `cronicorn_bench_${id}`;
  const { url, pool } = await prepareDatabase(options, dbName);
  const postgres = (
    await pool.query<{ v: string }>("SELECT 'PostgreSQL ' || current_setting('server_version') AS v")
  ).rows[0].v;
  const { rows: settingRows } = await pool.query<{ name: string; setting: string }>(
    `SELECT name, setting || COALESCE(unit, '') AS setting FROM pg_settings
      WHERE name IN ('max_connections', 'shared_buffers', 'synchronous_commit', 'fsync', 'wal_sync_method',
                     'commit_delay', 'wal_buffers', 'max_wal_size', 'checkpoint_timeout', 'autovacuum')`,
  );
  const postgresSettings = Object.fromEntries(settingRows.map((row) => [row.name, row.setting]));
  const names = new NatsNames(`bench${randomBytes(4).toString('hex')}`);
  const nc = await prepareNats(options, names);
  const natsVersion = nc.info?.version ?? 'unknown';
  say(`database ${dbName} and NATS namespace ${names.namespace} ready (${postgres}, NATS ${natsVersion})`);

  const target = await CountingTarget.start(options.targetDelayMs);
  cleanups.push({ what: 'closing the target', run: () => target.close() });
  const adminKey = `ck_admin_${randomBytes(24).toString('base64url')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: url,
    NATS_URL: options.natsUrl,
    CRONICORN_NATS_NAMESPACE: names.namespace,
    ADMIN_API_KEY: adminKey,
    SECRETS_KEY: SecretBox.generateSecret(),
    // Exactly the target's address, not every private one.
    ALLOW_PRIVATE_TARGETS: 'false',
    ALLOWED_TARGET_ADDRESSES: '127.0.0.1',
    // The creation burst is the bench's own doing, not a client to throttle.
    API_RATE_LIMIT_PER_SECOND: '0',
    LOG_LEVEL: options.logLevel,
    NO_COLOR: '1',
    // The heuristic planner: a bench must not spend OpenAI tokens.
    OPENAI_API_KEY: '',
  };
  await startApps(env, logsDir, options.relayIn);
  const prepareS = (Date.now() - startedAt.getTime()) / 1000;
  say(
    `apps ready (${prepareS.toFixed(1)}s): ${apps.map((app) => `${app.name} :${app.port} pid ${app.pid}`).join(', ')}`,
  );

  const groups: ProcessGroup[] = [
    ...apps.map((app) => ({ name: app.name, pids: () => (app.pid ? [app.pid] : []) })),
    {
      name: 'postgres',
      shared: !own,
      pids: () => {
        if (!own) return pidsByName('postgres');
        const pid = Number(readFileSync(join(own.postgres.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
        return processTree(pid);
      },
    },
    {
      name: 'postgres (bench db)',
      pids: async () =>
        (
          await pool.query<{ pid: number }>(
            'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
          )
        ).rows.map((row) => row.pid),
    },
    {
      name: 'nats-server',
      shared: !own,
      pids: () => (own ? pidsByCommandLine(own.nats.storeDir) : pidsByName('nats-server')),
    },
    { name: 'bench', pids: () => [process.pid] },
  ];
  const sampler = new ProcessSampler(groups);
  sampler.start();
  // Anything else busy on the machine skews every number: say so before loading it.
  await sleep(3_000);
  const idle = sampler.cpuBetween(Date.now() - 3_000, Date.now());
  const othersBeforePercent = Math.max(
    0,
    Math.round(idle.machine * machine.cpus - Object.values(ourCpu(idle.groups)).reduce((a, b) => a + b, 0)),
  );
  if (othersBeforePercent > 20) {
    say(
      `warning: processes outside the bench use ~${othersBeforePercent}% CPU (of ${machine.cpus * 100}%) before the load starts; results will be skewed`,
    );
  }
  cleanups.push({ what: 'stopping the sampler', run: async () => sampler.stop() });
  const probe = new LagProbe(pool, tailLag('projector', 'projector'));
  // Where an event's time goes on its way: relay to NATS, then the scheduler's fold.
  const stageProbes = [
    new LagProbe(pool, relayLag),
    new LagProbe(pool, consumerLag('scheduler', 'scheduler', ['RunStarted', 'RunFinished'])),
  ];
  const postgresSampler = new PostgresSampler(pool);
  const vacuum = await StandInVacuum.create(pool, options.vacuumS);
  if (vacuum.by === 'bench')
    say(`autovacuum is off on this server: the bench vacuums its database every ${options.vacuumS}s`);
  if (vacuum.by === 'none')
    say('warning: autovacuum is off on this server and --vacuum-s 0: dead rows pile up through the run');
  cleanups.push({ what: 'stopping the vacuum', run: () => vacuum.stop() });
  cleanups.push({
    what: 'stopping the lag probes',
    run: async () => [probe, ...stageProbes].forEach((p) => p.stop()),
  });

  phase = 'create';
  const commandApi = apps.find((app) => app.name === 'command-api') as BenchApp;
  const load = await createLoad(options, new Api(`http://127.0.0.1:${commandApi.port}`, adminKey), target);

  const commands = await CommandProbe.create(load.api, pool, load.jobId, target.url(options.endpoints));
  cleanups.push({ what: 'stopping the command probe', run: async () => commands.stop() });

  phase = 'load';
  vacuum.start((error) => say(`vacuum failed: ${error.message}`));
  probe.start();
  for (const stage of stageProbes) stage.start();
  commands.start();
  const backlog = new BacklogSampler(await jetstreamManager(nc), [names.eventsStream, names.dispatchStream]);
  const window = await runWindow(options, pool, sampler, probe, postgresSampler, backlog);

  phase = 'drain';
  const stoppedAt = Date.now();
  commands.stop();
  await load.api.request('DELETE', `/v1/jobs/${load.jobId}`);
  say('load stopped (job archived); draining');
  const drained = await drain(options, pool, probe, stoppedAt);
  // Probes of the window that the stages answer during the drain still count.
  for (const lagProbe of [probe, ...stageProbes]) lagProbe.stop();
  await sampler.sample();
  sampler.stop();

  phase = 'measure';
  await vacuum.stop();
  const appMetrics = await scrapeMetrics();
  const peaks = sampler.peakRss();
  const peakRssBytes: Record<string, number> = {};
  for (const name of [...APP_NAMES, 'nats-server']) peakRssBytes[name] = peaks[name] ?? 0;
  const crashes = apps
    .filter((app) => app.crashed)
    .map((app) => `${app.name}: ${app.exit?.signal ?? `code ${app.exit?.code}`}`);
  await Promise.all(apps.map((app) => app.stop(STOP_GRACE_MS)));
  const targetCalls = new Map<string, number>();
  load.endpointIds.forEach((endpointId, index) => targetCalls.set(endpointId, target.calls.get(index) ?? 0));
  const results = await withTimeout(
    analyse(pool, window, {
      endpoints: options.endpoints,
      intervalMs: options.intervalMs,
      lostAfterMs: options.lostAfterMs,
      targetCalls,
    }),
    120_000,
    'analysing the event log',
  );
  clearTimeout(watchdog);

  const { databaseUrl: _d, natsUrl: _n, ...kept } = options;
  const windowCpu = sampler.cpuBetween(window.fromMs, window.toMs);
  const othersPercent = Math.max(
    0,
    Math.round(
      windowCpu.machine * machine.cpus - Object.values(ourCpu(windowCpu.groups)).reduce((a, b) => a + b, 0),
    ),
  );
  const result: BenchResult = {
    bench: 'dispatch',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench:dispatch -- ${process.argv.slice(2).join(' ')}`.trim(),
    options: kept,
    machine: { ...machine, postgres, nats: natsVersion, loadAverageAtStart },
    servers: options.ownServers ? 'own' : 'local',
    appEnv: Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => TUNING_VARIABLE.test(name) && !/_PORT$/.test(name),
      ) as Array<[string, string]>,
    ),
    git: gitState(root),
    postgresSettings,
    phases: {
      prepareS,
      createS: load.createS,
      createdPerSecond: Math.round(options.endpoints / load.createS),
      window: { from: new Date(window.fromMs).toISOString(), to: new Date(window.toMs).toISOString() },
      drainS: drained.drainS,
      drained: drained.drained,
    },
    apps: apps.map((app) => app.name),
    results,
    eventLagMs: {
      ...Object.fromEntries(
        stageProbes.map((stage) => [stage.target.name, stage.report(window.fromMs, window.toMs)]),
      ),
      // occurredAt → seen committed, of the newest events: how long appends take to commit.
      appendToVisible: {
        ...stageProbes[0].appendDelays(window.fromMs, window.toMs),
        timeouts: 0,
        unfinished: 0,
      },
    },
    projectionLagMs: {
      ...probe.report(window.fromMs, window.toMs),
      caughtUpAfterStopS: drained.caughtUpAfterStopS,
    },
    commandFoldMs: commands.report(window.fromMs, window.toMs),
    peakRssBytes,
    cpuPercent: { ...windowCpu, othersPercent, othersBeforePercent },
    postgres: postgresSampler.report(),
    vacuum: vacuum.report(),
    consumerBacklog: backlog.report(),
    appMetrics,
    crashes,
    appProblems: Object.fromEntries(apps.map((app) => [app.name, app.problems()])),
    logsDir,
    costPerRun: null,
  };

  // What one run costs: the capacity figure that does not depend on how busy the machine was.
  const runsInWindow = results.runsPerSecond * options.durationS;
  const perRun = (value: number) =>
    runsInWindow > 0 ? Math.round((value / runsInWindow) * 100) / 100 : null;
  const cpuMsPerRun: Record<string, number | null> = {};
  let ourTotal = 0;
  for (const [name, percent] of Object.entries(windowCpu.groups)) {
    if (name === 'postgres' || name === 'bench') continue;
    const ms = percent * 10 * options.durationS;
    cpuMsPerRun[name] = perRun(ms);
    ourTotal += ms;
  }
  result.costPerRun = {
    cpuMs: { total: perRun(ourTotal), ...cpuMsPerRun },
    commits: result.postgres ? perRun(result.postgres.commitsPerSecond * options.durationS) : null,
    events: perRun(results.eventsPerSecond * options.durationS),
  };
  writeFileSync(join(logsDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  let file: string | null = null;
  if (options.write) {
    const dir = join(root, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    file = relative(root, join(dir, `dispatch-${id}.json`));
    // The kept copy names the logs directory only: its place is this machine's temporary directory.
    const kept = { ...result, logsDir: basename(logsDir) };
    writeFileSync(join(root, file), `${JSON.stringify(kept, null, 2)}\n`);
    const docPath = join(root, 'docs', 'performance.md');
    const doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Performance\n';
    writeFileSync(docPath, updatePerformanceDoc(doc, resultRow(result, file), machineBlock(result)));
  }
  printSummary(result, file);
}

main()
  .then(async () => {
    await cleanup();
    process.exit(0);
  })
  .catch(async (error: unknown) => {
    const message =
      error instanceof BenchAborted || error instanceof OptionsError
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    say(`bench failed${phase === 'starting' ? '' : ` during "${phase}"`}: ${message}`);
    await cleanup();
    process.exit(error instanceof OptionsError ? 2 : 1);
  });
