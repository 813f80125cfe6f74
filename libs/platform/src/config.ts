import { NatsNames } from '@cronicorn/events';

export type AppName = 'command-api' | 'scheduler' | 'dispatcher' | 'ai-planner' | 'projector';

/** Default HTTP port of each app (DESIGN §9): the API on 3000, health/metrics on 3001–3004. */
export const DEFAULT_PORTS: Record<AppName, number> = {
  'command-api': 3000,
  scheduler: 3001,
  dispatcher: 3002,
  'ai-planner': 3003,
  projector: 3004,
};

/** Environment variable that overrides one app's port, e.g. `SCHEDULER_PORT`. */
export function portVariable(app: AppName): string {
  return app === 'command-api' ? 'PORT' : `${app.toUpperCase().replace(/-/g, '_')}_PORT`;
}

/** Everything read from the environment (DESIGN §9); names are part of the contract. */
export interface CronicornConfig {
  app: AppName;
  port: number;
  databaseUrl: string;
  /** Connections per app process (`DATABASE_POOL_SIZE`); keep replicas × size below Postgres' `max_connections`. */
  databasePoolSize: number;
  natsUrl: string;
  nats: NatsNames;
  adminApiKey: string | null;
  allowPrivateTargets: boolean;
  secretsKey: string | null;
  openaiApiKey: string | null;
  openaiBaseUrl: string | null;
  aiModel: string;
  aiAnalysisIntervalMs: number;
  aiDailyTokenBudget: number;
  aiMaxPauseMs: number;
  logLevel: string;
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/cronicorn';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** A variable holds a value the apps cannot use; the message names it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const unset = (raw: string | undefined): raw is undefined => raw === undefined || raw.trim() === '';

/** An integer variable within `min`..`max` (default 0..2^53-1); unset is `fallback`; else a ConfigError naming it. */
export function integerFrom(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {},
): number {
  const raw = env[name];
  if (unset(raw)) return fallback;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? min === 0
          ? 'a non-negative integer'
          : `an integer of at least ${min}`
        : `an integer from ${min} to ${max}`;
    throw new ConfigError(`${name} must be ${range}, got "${raw}"`);
  }
  return value;
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

/** A yes/no variable: unset is false; true, 1, yes, on and their opposites in any case; else a ConfigError. */
export function booleanFrom(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (unset(raw)) return false;
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  throw new ConfigError(`${name} must be true or false (or 1/0, yes/no, on/off), got "${raw}"`);
}

function databaseUrlFrom(env: NodeJS.ProcessEnv): string {
  const raw = env.DATABASE_URL;
  if (unset(raw)) return DEFAULT_DATABASE_URL;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`DATABASE_URL must be a URL like ${DEFAULT_DATABASE_URL}; it does not parse`);
  }
  if (parsed.password) parsed.password = '***';
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError(`DATABASE_URL must start with postgres://, got "${parsed.toString()}"`);
  }
  if (parsed.pathname.replace(/^\//, '') === '') {
    throw new ConfigError(`DATABASE_URL must name a database (…/cronicorn), got "${parsed.toString()}"`);
  }
  return raw;
}

/** A prefix of stream names and a subject token: letters, digits, `_` and `-` only. */
function natsNamespaceFrom(env: NodeJS.ProcessEnv): string {
  const raw = env.CRONICORN_NATS_NAMESPACE;
  if (unset(raw)) return '';
  const namespace = raw.trim();
  if (!/^[A-Za-z0-9_-]+$/.test(namespace)) {
    throw new ConfigError(
      `CRONICORN_NATS_NAMESPACE must be letters, digits, _ or - (a stream name prefix and a subject token), got "${raw}"`,
    );
  }
  return namespace;
}

/**
 * An http(s) URL of an OpenAI-compatible API: without a scheme (`localhost:11434/v1`) every
 * analysis would fail with a bare connection error. The value is not repeated (it may hold a token).
 */
function openaiBaseUrlFrom(env: NodeJS.ProcessEnv): string | null {
  const raw = orNull(env.OPENAI_BASE_URL);
  if (raw === null) return null;
  let parsed: URL | null = null;
  try {
    parsed = new URL(raw.trim());
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new ConfigError(
      'OPENAI_BASE_URL must be an http:// or https:// URL of an OpenAI-compatible API (like https://api.openai.com/v1)',
    );
  }
  return raw.trim();
}

function logLevelFrom(env: NodeJS.ProcessEnv): string {
  const raw = env.LOG_LEVEL;
  if (unset(raw)) return 'info';
  const level = raw.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; got "${raw}"`);
  }
  return level;
}

const orNull = (value: string | undefined) => (value === undefined || value === '' ? null : value);

/** Reads and checks the environment; throws a `ConfigError` naming the first bad variable. */
export function loadConfig(app: AppName, env: NodeJS.ProcessEnv = process.env): CronicornConfig {
  return {
    app,
    port: integerFrom(env, portVariable(app), DEFAULT_PORTS[app], { max: 65_535 }),
    databaseUrl: databaseUrlFrom(env),
    databasePoolSize: Math.max(2, integerFrom(env, 'DATABASE_POOL_SIZE', 10)),
    natsUrl: env.NATS_URL || DEFAULT_NATS_URL,
    nats: new NatsNames(natsNamespaceFrom(env)),
    adminApiKey: orNull(env.ADMIN_API_KEY),
    allowPrivateTargets: booleanFrom(env, 'ALLOW_PRIVATE_TARGETS'),
    secretsKey: orNull(env.SECRETS_KEY),
    openaiApiKey: orNull(env.OPENAI_API_KEY),
    openaiBaseUrl: openaiBaseUrlFrom(env),
    aiModel: env.AI_MODEL || 'gpt-4o-mini',
    aiAnalysisIntervalMs: integerFrom(env, 'AI_ANALYSIS_INTERVAL_MS', 5 * 60_000),
    aiDailyTokenBudget: integerFrom(env, 'AI_DAILY_TOKEN_BUDGET', 200_000),
    aiMaxPauseMs: integerFrom(env, 'AI_MAX_PAUSE_MS', 24 * 3_600_000),
    logLevel: logLevelFrom(env),
  };
}
