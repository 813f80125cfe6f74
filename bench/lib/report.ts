import type { LogProblems } from './apps';
import type { BenchOptions } from './options';
import type { LagReport, RunResults } from './analysis';
import type { MachineInfo } from './proc';
import type { PostgresReport, VacuumReport } from './postgres';
import type { Percentiles } from './stats';

/** The JSON a run writes to `bench/results/dispatch-<timestamp>.json`. */
export interface BenchResult {
  bench: 'dispatch';
  startedAt: string;
  finishedAt: string;
  command: string;
  options: Omit<BenchOptions, 'databaseUrl' | 'natsUrl'>;
  machine: MachineInfo & { postgres: string; nats: string; loadAverageAtStart: number[] };
  phases: {
    prepareS: number;
    createS: number;
    createdPerSecond: number;
    window: { from: string; to: string };
    drainS: number;
    drained: boolean;
  };
  apps: string[];
  /** `local`: the machine's shared servers (own database and namespace); `own`: private ones. */
  servers: 'local' | 'own';
  /** HEAD when the bench ran and the tracked files that differed from it. */
  git: { commit: string | null; changed: string[] };
  postgresSettings: Record<string, string>;
  /** Tuning variables set in the bench's environment, which the apps inherit. */
  appEnv: Record<string, string>;
  results: RunResults;
  /**
   * Seen committed → relayed to NATS (`relay`), → folded by the scheduler (`scheduler`, run
   * events), sampled each second of the window; `appendToVisible`: `occurredAt` → seen committed.
   */
  eventLagMs: Record<string, LagReport>;
  projectionLagMs: LagReport & { caughtUpAfterStopS: number | null };
  /** A pause or resume of a probe endpoint, from the API's answer to the scheduler's row (every 5 s of the load). */
  commandFoldMs: Percentiles & { timeouts: number; warmup?: Percentiles };
  /** Peak RSS of each app (VmHWM) and nats-server (its sampled RSS when shared); bytes. */
  peakRssBytes: Record<string, number>;
  /**
   * CPU over the window, % of one core per process group; machine = % of all cores;
   * others = what processes outside the bench used (% of one core), in the window and before it.
   */
  cpuPercent: {
    machine: number;
    steal: number;
    groups: Record<string, number>;
    othersPercent: number;
    othersBeforePercent: number;
  };
  postgres: PostgresReport | null;
  /** Who vacuumed the bench's database during the run. */
  vacuum: VacuumReport;
  /** JetStream backlog per durable consumer (`stream/consumer`), sampled every 5 s of the load. */
  consumerBacklog: Record<string, { meanPending: number; maxPending: number; maxAckPending: number }>;
  /** Selected counters scraped from each app's /metrics at the end. */
  appMetrics: Record<string, Record<string, number | null>>;
  /** Apps that exited on their own during the run, with how. */
  crashes: string[];
  /** Warnings and errors the apps logged during the run. */
  appProblems: Record<string, LogProblems>;
  logsDir: string;
  /**
   * Resources per scheduled run started in the window: CPU ms of each app, of the bench
   * database's Postgres backends and of nats-server (total = their sum), commits, events.
   */
  costPerRun: {
    cpuMs: Record<string, number | null>;
    commits: number | null;
    events: number | null;
  } | null;
}

const MARK = { results: 'bench:dispatch:results', machine: 'bench:dispatch:machine' };
const HEADER =
  '| date (UTC) | load | runs/s (ideal) | lateness p50 / p95 / p99 / max (ms) | lost | duplicate | skipped | events/s | projection lag p50 / p99 / max (ms) | peak RSS MB: api / sched / disp / ai / proj / nats | CPU in window: machine busy %; % of one core: sched / disp / proj / api / ai / pg / nats / others | result |\n' +
  '|---|---|---|---|---|---|---|---|---|---|---|---|';

const num = (value: number | null | undefined) =>
  value === null || value === undefined ? '—' : String(Math.round(value));
const mb = (bytes: number | undefined) => (bytes ? String(Math.round(bytes / 2 ** 20)) : '—');
const pct = (value: number | undefined) => (value === undefined ? '—' : value.toFixed(0));

export function resultRow(result: BenchResult, file: string): string {
  const r = result.results;
  const lag = result.projectionLagMs;
  const o = result.options;
  const cpu = result.cpuPercent.groups;
  const rss = result.peakRssBytes;
  const problems = Object.values(result.appProblems).reduce((sum, p) => sum + p.warnings + p.errors, 0);
  const cells = [
    result.startedAt.slice(0, 16).replace('T', ' '),
    `${o.endpoints} × ${o.intervalMs} ms × ${o.durationS} s${result.servers === 'own' ? ', own servers' : ''}${o.relayIn ? `, relay in ${o.relayIn}` : ''}${Object.entries(
      result.appEnv,
    )
      .map(([name, value]) => `, ${name}=${value}`)
      .join('')}${o.note ? ` (${o.note})` : ''}`,
    `${r.runsPerSecond} (${r.idealRunsPerSecond})`,
    [r.latenessMs.p50, r.latenessMs.p95, r.latenessMs.p99, r.latenessMs.max].map(num).join(' / '),
    `${r.plans.lost} of ${r.plans.eligible}`,
    String(r.duplicates.total),
    String(r.plans.outcomes.skipped),
    String(r.eventsPerSecond),
    `${[lag.p50, lag.p99, lag.max].map(num).join(' / ')}${lag.timeouts ? ` (+${lag.timeouts} > 60 s)` : ''}${
      lag.unfinished ? ` (+${lag.unfinished} unanswered)` : ''
    }`,
    ['command-api', 'scheduler', 'dispatcher', 'ai-planner', 'projector', 'nats-server']
      .map((name) => mb(rss[name]))
      .join(' / '),
    `${pct(result.cpuPercent.machine)}; ${[
      'scheduler',
      'dispatcher',
      'projector',
      'command-api',
      'ai-planner',
      'postgres',
      'nats-server',
    ]
      .map((name) => pct(cpu[name]))
      .join(' / ')} / ${pct(result.cpuPercent.othersPercent)}`,
    `[json](../${file})${result.crashes.length ? ` **${result.crashes.length} app exit(s)**` : ''}${
      problems ? ` **${problems} app log warnings/errors**` : ''
    }`,
  ];
  return `| ${cells.join(' | ')} |`;
}

export function machineBlock(result: BenchResult): string {
  const m = result.machine;
  return [
    `Last run on: ${m.cpus} vCPU (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Linux ${m.kernel}; ` +
      `Node ${m.node}, ${m.postgres}, NATS ${m.nats}; every app, Postgres and NATS on this one machine ` +
      `(load average at start: ${m.loadAverageAtStart.map((v) => v.toFixed(2)).join(' ')}).`,
  ].join('\n');
}

function replaceBetween(text: string, mark: string, body: (current: string) => string): string | null {
  const open = `<!-- ${mark} -->`;
  const close = `<!-- /${mark} -->`;
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  if (start < 0 || end < start) return null;
  const current = text.slice(start + open.length, end).trim();
  return `${text.slice(0, start)}${open}\n${body(current)}\n${close}${text.slice(end + close.length)}`;
}

/**
 * Puts the run's row at the top of the results table of `docs/performance.md` and refreshes
 * the machine line; creates both sections at the end when their markers are missing.
 */
export function updatePerformanceDoc(markdown: string, row: string, machine: string): string {
  let text = markdown;
  const withRow = replaceBetween(text, MARK.results, (current) => {
    const lines = current.split('\n').filter((line) => line.startsWith('|'));
    const rows = lines.slice(2);
    return [HEADER, row, ...rows].join('\n');
  });
  text =
    withRow ??
    `${text.trimEnd()}\n\n## Results\n\n<!-- ${MARK.results} -->\n${HEADER}\n${row}\n<!-- /${MARK.results} -->\n`;
  const withMachine = replaceBetween(text, MARK.machine, () => machine);
  return (
    withMachine ??
    `${text.trimEnd()}\n\n## Machine\n\n<!-- ${MARK.machine} -->\n${machine}\n<!-- /${MARK.machine} -->\n`
  );
}
