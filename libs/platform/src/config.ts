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

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  }
  return value;
}

const orNull = (value: string | undefined) => (value === undefined || value === '' ? null : value);

export function loadConfig(app: AppName, env: NodeJS.ProcessEnv = process.env): CronicornConfig {
  return {
    app,
    port: intFrom(env, portVariable(app), DEFAULT_PORTS[app]),
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    databasePoolSize: Math.max(2, intFrom(env, 'DATABASE_POOL_SIZE', 10)),
    natsUrl: env.NATS_URL || DEFAULT_NATS_URL,
    nats: new NatsNames(env.CRONICORN_NATS_NAMESPACE ?? ''),
    adminApiKey: orNull(env.ADMIN_API_KEY),
    allowPrivateTargets: env.ALLOW_PRIVATE_TARGETS === 'true',
    secretsKey: orNull(env.SECRETS_KEY),
    openaiApiKey: orNull(env.OPENAI_API_KEY),
    openaiBaseUrl: orNull(env.OPENAI_BASE_URL),
    aiModel: env.AI_MODEL || 'gpt-4o-mini',
    aiAnalysisIntervalMs: intFrom(env, 'AI_ANALYSIS_INTERVAL_MS', 5 * 60_000),
    aiDailyTokenBudget: intFrom(env, 'AI_DAILY_TOKEN_BUDGET', 200_000),
    aiMaxPauseMs: intFrom(env, 'AI_MAX_PAUSE_MS', 24 * 3_600_000),
    logLevel: env.LOG_LEVEL || 'info',
  };
}
