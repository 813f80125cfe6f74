import { ConfigError, integerFrom } from '@cronicorn/platform';

/** Settings of command-api beyond the shared config (DESIGN §9 names stay in CronicornConfig). */
export interface ApiOptions {
  /** Sustained requests per second per API key; 0 turns the limit off. */
  rateLimitPerSecond: number;
  /** Requests a key may send at once before the sustained rate applies. */
  rateLimitBurst: number;
  /** Longest wait for `x-min-position` before answering with what the read models have. */
  minPositionTimeoutMs: number;
  /** `GET /v1/events/stream` connections one tenant may hold open on this replica. */
  maxStreamsPerTenant: number;
}

export const API_OPTIONS = Symbol('API_OPTIONS');

/** A non-negative number (rates may be fractional); unset or blank is `fallback`. */
function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new ConfigError(`${name} must be a non-negative number, got "${env[name]}"`);
  return value;
}

export function loadApiOptions(env: NodeJS.ProcessEnv = process.env): ApiOptions {
  const rateLimitPerSecond = numberFrom(env, 'API_RATE_LIMIT_PER_SECOND', 50);
  return {
    rateLimitPerSecond,
    rateLimitBurst: Math.max(1, numberFrom(env, 'API_RATE_LIMIT_BURST', Math.max(1, rateLimitPerSecond * 2))),
    minPositionTimeoutMs: numberFrom(env, 'API_MIN_POSITION_TIMEOUT_MS', 5_000),
    maxStreamsPerTenant: integerFrom(env, 'API_MAX_STREAMS_PER_TENANT', 10, { min: 1 }),
  };
}
