/** What one `npm run bench:dispatch` measures; every field has a flag and an environment variable. */
export interface BenchOptions {
  /** Endpoints created (`--endpoints`, `BENCH_ENDPOINTS`). */
  endpoints: number;
  /** Schedule of each endpoint (`--interval-ms`, `BENCH_INTERVAL_MS`); at least 1000 (the API's floor). */
  intervalMs: number;
  /** Length of the measured window (`--duration-s`, `BENCH_DURATION_S`). */
  durationS: number;
  /** Load before the window opens, once every endpoint exists (`--warmup-s`, `BENCH_WARMUP_S`). */
  warmupS: number;
  /** API requests in flight while creating endpoints (`--concurrency`, `BENCH_CONCURRENCY`). */
  concurrency: number;
  /** The target's answer delay (`--target-delay-ms`, `BENCH_TARGET_DELAY_MS`). */
  targetDelayMs: number;
  /** A planned run that has not started this long after its time counts as lost (`--lost-after-ms`). */
  lostAfterMs: number;
  /** Longest wait for in-flight runs and the projector after the load stops (`--drain-timeout-s`). */
  drainTimeoutS: number;
  /** `LOG_LEVEL` of the apps (`--log-level`, `BENCH_LOG_LEVEL`). */
  logLevel: string;
  /** Postgres server; the bench creates and drops its own database there (`--database-url`). */
  databaseUrl: string;
  /** NATS server; the bench uses its own namespace there (`--nats-url`). */
  natsUrl: string;
  /**
   * When the server runs without autovacuum, vacuum the bench's database this often, as
   * autovacuum would (`--vacuum-s`, `BENCH_VACUUM_S`); 0: never.
   */
  vacuumS: number;
  /** Keep the database and streams afterwards, for inspection (`--keep`). */
  keep: boolean;
  /** Skip writing `bench/results/` and `docs/performance.md` (`--no-write`). */
  write: boolean;
  /** Free text stored with the result (`--note`). */
  note: string;
  /**
   * Start this app first and let its outbox relay become the leader before the others start
   * (`--relay-in`). Empty: all five start at once, as `npm start` does, and any may lead.
   */
  relayIn: string;
  /**
   * Run a private Postgres and nats-server (same binaries, default settings, data on the same
   * disk) instead of the shared local ones (`--own-servers`): other users of the shared
   * servers then take no connections, locks or commit bandwidth from the bench.
   */
  ownServers: boolean;
}

interface Spec {
  key: keyof BenchOptions;
  flag: string;
  env: string;
  kind: 'int' | 'string' | 'bool';
  min?: number;
  help: string;
}

const SPECS: readonly Spec[] = [
  {
    key: 'endpoints',
    flag: 'endpoints',
    env: 'BENCH_ENDPOINTS',
    kind: 'int',
    min: 1,
    help: 'endpoints created',
  },
  {
    key: 'intervalMs',
    flag: 'interval-ms',
    env: 'BENCH_INTERVAL_MS',
    kind: 'int',
    min: 1000,
    help: 'interval of every endpoint',
  },
  {
    key: 'durationS',
    flag: 'duration-s',
    env: 'BENCH_DURATION_S',
    kind: 'int',
    min: 1,
    help: 'measured window, seconds',
  },
  {
    key: 'warmupS',
    flag: 'warmup-s',
    env: 'BENCH_WARMUP_S',
    kind: 'int',
    min: 0,
    help: 'load before the window, seconds',
  },
  {
    key: 'concurrency',
    flag: 'concurrency',
    env: 'BENCH_CONCURRENCY',
    kind: 'int',
    min: 1,
    help: 'API requests in flight while creating',
  },
  {
    key: 'targetDelayMs',
    flag: 'target-delay-ms',
    env: 'BENCH_TARGET_DELAY_MS',
    kind: 'int',
    min: 0,
    help: "the target's answer delay",
  },
  {
    key: 'lostAfterMs',
    flag: 'lost-after-ms',
    env: 'BENCH_LOST_AFTER_MS',
    kind: 'int',
    min: 1,
    help: 'a run not started this late is lost',
  },
  {
    key: 'drainTimeoutS',
    flag: 'drain-timeout-s',
    env: 'BENCH_DRAIN_TIMEOUT_S',
    kind: 'int',
    min: 1,
    help: 'longest wait after the load stops',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'BENCH_LOG_LEVEL',
    kind: 'string',
    help: 'LOG_LEVEL of the apps',
  },
  {
    key: 'databaseUrl',
    flag: 'database-url',
    env: 'BENCH_DATABASE_URL',
    kind: 'string',
    help: 'Postgres server (own database)',
  },
  {
    key: 'natsUrl',
    flag: 'nats-url',
    env: 'BENCH_NATS_URL',
    kind: 'string',
    help: 'NATS server (own namespace)',
  },
  {
    key: 'vacuumS',
    flag: 'vacuum-s',
    env: 'BENCH_VACUUM_S',
    kind: 'int',
    min: 0,
    help: 'without autovacuum on the server: VACUUM the bench database every n s (0: never)',
  },
  { key: 'keep', flag: 'keep', env: 'BENCH_KEEP', kind: 'bool', help: 'keep the database and streams' },
  {
    key: 'write',
    flag: 'write',
    env: 'BENCH_WRITE',
    kind: 'bool',
    help: 'write results (--no-write: do not)',
  },
  {
    key: 'relayIn',
    flag: 'relay-in',
    env: 'BENCH_RELAY_IN',
    kind: 'string',
    help: 'app whose outbox relay leads (default: whichever wins)',
  },
  {
    key: 'ownServers',
    flag: 'own-servers',
    env: 'BENCH_OWN_SERVERS',
    kind: 'bool',
    help: 'private Postgres and nats-server for the bench',
  },
  { key: 'note', flag: 'note', env: 'BENCH_NOTE', kind: 'string', help: 'free text kept with the result' },
];

export function defaultOptions(env: NodeJS.ProcessEnv): BenchOptions {
  return {
    endpoints: 1000,
    intervalMs: 1000,
    durationS: 60,
    warmupS: 10,
    concurrency: 16,
    targetDelayMs: 0,
    lostAfterMs: 5000,
    drainTimeoutS: 60,
    logLevel: 'info',
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
    vacuumS: 10,
    keep: false,
    write: true,
    note: '',
    relayIn: '',
    ownServers: false,
  };
}

export class OptionsError extends Error {}

export function usage(): string {
  const lines = SPECS.map((spec) => {
    const flag =
      spec.kind === 'bool' ? `--${spec.flag}` : `--${spec.flag} <${spec.kind === 'int' ? 'n' : 'text'}>`;
    return `  ${flag.padEnd(28)} ${spec.help} (${spec.env})`;
  });
  return [
    'Usage: npm run bench:dispatch -- [options]',
    '',
    ...lines,
    '  --help'.padEnd(30) + ' this text',
  ].join('\n');
}

function parseValue(spec: Spec, raw: string, source: string): BenchOptions[keyof BenchOptions] {
  if (spec.kind === 'string') return raw;
  if (spec.kind === 'bool') {
    if (['1', 'true', 'yes', ''].includes(raw)) return true;
    if (['0', 'false', 'no'].includes(raw)) return false;
    throw new OptionsError(`${source} must be true or false, got "${raw}"`);
  }
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < (spec.min ?? 0)) {
    throw new OptionsError(`${source} must be an integer ≥ ${spec.min ?? 0}, got "${raw}"`);
  }
  return value;
}

/**
 * Options from the defaults, then the environment, then the command line (`--flag value`,
 * `--flag=value`, `--no-<bool>`). Returns null when `--help` was asked for.
 */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions | null {
  const options: BenchOptions = defaultOptions(env);
  const set = <K extends keyof BenchOptions>(key: K, value: BenchOptions[K]) => {
    options[key] = value;
  };
  for (const spec of SPECS) {
    const raw = env[spec.env];
    if (raw !== undefined && raw !== '') set(spec.key, parseValue(spec, raw, spec.env));
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return null;
    const match = /^--(no-)?([a-z-]+)(?:=(.*))?$/.exec(arg);
    const spec = match ? SPECS.find((candidate) => candidate.flag === match[2]) : undefined;
    if (!match || !spec) throw new OptionsError(`unknown option "${arg}"\n\n${usage()}`);
    const [, negated, , inline] = match;
    if (spec.kind === 'bool') {
      if (negated && inline !== undefined) throw new OptionsError(`--no-${spec.flag} takes no value`);
      set(spec.key, negated ? false : parseValue(spec, inline ?? '', `--${spec.flag}`));
      continue;
    }
    if (negated) throw new OptionsError(`--no-${spec.flag} is not an option`);
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new OptionsError(`--${spec.flag} needs a value`);
    set(spec.key, parseValue(spec, raw, `--${spec.flag}`));
  }
  return options;
}
