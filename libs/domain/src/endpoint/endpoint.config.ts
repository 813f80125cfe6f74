import { CronPreset, EndpointConfig, EndpointSchedule } from '@cronicorn/events';
import { invalid } from '../core/errors';
import {
  definedOnly,
  instant,
  integerError,
  MAX_REASON_LENGTH,
  textError,
  urlUserInfoError,
} from '../core/validation';
import { validateCron, validateTimezone } from '../schedule/cron';
import { presetErrors, presetToCron } from '../schedule/presets';

/** Hard limits of an endpoint's configuration; values outside them are refused. */
export const ENDPOINT_LIMITS = {
  /** Floor of every interval: schedule, bounds and hints. */
  minIntervalMs: 1_000,
  /**
   * Ceiling of every interval and of the jitter (about 10 years): far larger ones lead past the
   * last instant a date can hold, and the endpoint would silently stop being planned.
   */
  longestIntervalMs: 3_650 * 86_400_000,
  maxTimeoutMs: 300_000,
  maxAttempts: 10,
  maxNameLength: 200,
  maxDescriptionLength: 2_000,
  maxUrlLength: 2_048,
  maxTriggers: 20,
  /** Pause and hint reasons. */
  maxReasonLength: MAX_REASON_LENGTH,
} as const;

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
/** Lower case only: `Deploy` and `deploy` would otherwise be two triggers that look like one. */
export const TRIGGER_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const CIPHERTEXT_PATTERN = /^enc:v\d+:/;

type RequiredConfig = Pick<EndpointConfig, 'name' | 'url' | 'schedule'>;

/** Fills the optional fields of a new endpoint (`POST /v1/jobs/:jobId/endpoints`). */
export function endpointConfigWithDefaults(input: RequiredConfig & Partial<EndpointConfig>): EndpointConfig {
  const defaults: EndpointConfig = {
    name: input.name,
    description: null,
    url: input.url,
    method: 'GET',
    headers: {},
    secretHeaders: {},
    body: null,
    timeoutMs: 30_000,
    schedule: input.schedule,
    startAt: null,
    endAt: null,
    maxRuns: null,
    minIntervalMs: null,
    maxIntervalMs: null,
    maxAttempts: 1,
    jitterMs: 0,
    catchUp: 'once',
    overlap: 'skip',
    pauseAfterFailures: null,
    triggers: [],
  };
  return { ...defaults, ...definedOnly(input) };
}

//////////////////////////////////////// Schedule input

/** The schedule fields of the REST body (`cron` + `timezone`, `intervalMs` or `runAt`). */
export interface ScheduleInput {
  cron?: string;
  timezone?: string;
  intervalMs?: number;
  runAt?: string;
}

/**
 * A schedule to set. A cron change may leave out `cron` or `timezone` to keep the current
 * one (`PATCH {timezone}` moves a cron to another zone, keeping its preset). `preset` is the
 * preset `cron` was made from (`presetToCron`); a new cron without one drops the old preset.
 */
export type ScheduleChange =
  | { kind: 'cron'; cron?: string; timezone?: string; preset?: CronPreset }
  | Extract<EndpointSchedule, { kind: 'interval' | 'once' }>;

/**
 * Reads the schedule fields of a REST body: undefined when none is present, an `invalid`
 * DomainError when more than one kind is.
 */
export function scheduleChangeFromInput(input: ScheduleInput): ScheduleChange | undefined {
  const cron = input.cron !== undefined || input.timezone !== undefined;
  const kinds = [cron, input.intervalMs !== undefined, input.runAt !== undefined].filter(Boolean).length;
  if (kinds > 1) {
    const message = 'give exactly one of cron (with timezone), intervalMs, runAt';
    const fields: Record<string, string> = {};
    for (const field of ['cron', 'timezone', 'intervalMs', 'runAt'] as const) {
      if (input[field] !== undefined) fields[field] = message;
    }
    throw invalid('ENDPOINT.INVALID_CONFIG', 'Invalid schedule', fields);
  }
  if (cron) return { kind: 'cron', cron: input.cron, timezone: input.timezone };
  if (input.intervalMs !== undefined) return { kind: 'interval', intervalMs: input.intervalMs };
  if (input.runAt !== undefined) return { kind: 'once', runAt: input.runAt };
  return undefined;
}

/** The full schedule a change leads to; a new cron without a zone runs in UTC. */
export function resolveSchedule(change: ScheduleChange, current: EndpointSchedule | null): EndpointSchedule {
  if (change.kind !== 'cron') return change;
  const previous = current?.kind === 'cron' ? current : null;
  const cron = change.cron ?? previous?.cron;
  if (cron === undefined) {
    throw invalid('ENDPOINT.INVALID_CONFIG', 'Invalid schedule', {
      cron: 'required: the current schedule is not a cron',
    });
  }
  const timezone = change.timezone ?? previous?.timezone ?? 'UTC';
  const preset = change.cron === undefined ? previous?.preset : change.preset;
  return preset ? { kind: 'cron', cron, timezone, preset } : { kind: 'cron', cron, timezone };
}

//////////////////////////////////////// Validation

export interface ConfigValidationOptions {
  /**
   * The schedule is being set now (creation, or a schedule change): a one-time `runAt` must
   * then lie in the future. An untouched one-time schedule may lie in the past (it ran).
   */
  scheduleIsNew: boolean;
}

/** Field name → what is wrong with it; empty when the configuration is valid. */
export function validateEndpointConfig(
  config: EndpointConfig,
  now: Date,
  options: ConfigValidationOptions,
): Record<string, string> {
  const errors: Record<string, string> = {};
  const check = (field: string, error: string | null) => {
    if (error !== null && !(field in errors)) errors[field] = error;
  };

  check('name', textError(config.name, ENDPOINT_LIMITS.maxNameLength, true));
  if (config.description !== null) {
    check('description', textError(config.description, ENDPOINT_LIMITS.maxDescriptionLength, false));
  }
  check('url', urlError(config.url));
  check('method', HTTP_METHODS.includes(config.method) ? null : `must be one of ${HTTP_METHODS.join(', ')}`);
  check('headers', headersError(config.headers));
  check('secretHeaders', headersError(config.secretHeaders));
  for (const [name, value] of Object.entries(isRecord(config.secretHeaders) ? config.secretHeaders : {})) {
    // Safety net for DESIGN §8: a clear-text secret must never reach an event.
    check(
      `secretHeaders.${name}`,
      CIPHERTEXT_PATTERN.test(String(value)) ? null : 'must be encrypted by the adapter',
    );
  }
  const clear = new Set(
    Object.keys(isRecord(config.headers) ? config.headers : {}).map((h) => h.toLowerCase()),
  );
  for (const name of Object.keys(isRecord(config.secretHeaders) ? config.secretHeaders : {})) {
    check(`secretHeaders.${name}`, clear.has(name.toLowerCase()) ? 'also set as a plain header' : null);
  }
  check('timeoutMs', integerError(config.timeoutMs, 1, ENDPOINT_LIMITS.maxTimeoutMs));

  for (const [field, error] of Object.entries(scheduleErrors(config.schedule, now, options)))
    check(field, error);

  const startAt = config.startAt === null ? null : instant(config.startAt);
  const endAt = config.endAt === null ? null : instant(config.endAt);
  check('startAt', startAt === undefined ? 'must be an ISO 8601 instant with an offset' : null);
  check('endAt', endAt === undefined ? 'must be an ISO 8601 instant with an offset' : null);
  if (startAt && endAt && endAt.getTime() <= startAt.getTime()) check('endAt', 'must be after startAt');
  if (config.maxRuns !== null) check('maxRuns', integerError(config.maxRuns, 1));

  const min = config.minIntervalMs;
  const max = config.maxIntervalMs;
  const { minIntervalMs: shortest, longestIntervalMs: longest } = ENDPOINT_LIMITS;
  if (min !== null) check('minIntervalMs', integerError(min, shortest, longest));
  if (max !== null) check('maxIntervalMs', integerError(max, shortest, longest));
  if (min !== null && max !== null && !errors.minIntervalMs && !errors.maxIntervalMs && min > max) {
    check('minIntervalMs', 'must not exceed maxIntervalMs');
  }

  check('maxAttempts', integerError(config.maxAttempts, 1, ENDPOINT_LIMITS.maxAttempts));
  check('jitterMs', integerError(config.jitterMs, 0, ENDPOINT_LIMITS.longestIntervalMs));
  check('catchUp', ['once', 'skip', 'all'].includes(config.catchUp) ? null : 'must be once, skip or all');
  check('overlap', ['skip', 'queue_one'].includes(config.overlap) ? null : 'must be skip or queue_one');
  if (config.pauseAfterFailures !== null)
    check('pauseAfterFailures', integerError(config.pauseAfterFailures, 1));
  check('triggers', triggersError(config.triggers));
  return errors;
}

/** The configuration with its instants written in UTC (`…Z`), as events store them. */
export function normalizeInstants(config: EndpointConfig): EndpointConfig {
  const utc = (value: string) => instant(value)?.toISOString() ?? value;
  return {
    ...config,
    startAt: config.startAt === null ? null : utc(config.startAt),
    endAt: config.endAt === null ? null : utc(config.endAt),
    schedule:
      config.schedule.kind === 'once'
        ? { ...config.schedule, runAt: utc(config.schedule.runAt) }
        : config.schedule,
  };
}

/** Throws an `invalid` DomainError naming every bad field. */
export function assertValidEndpointConfig(
  config: EndpointConfig,
  now: Date,
  options: ConfigValidationOptions,
) {
  const fields = validateEndpointConfig(config, now, options);
  if (Object.keys(fields).length > 0) {
    throw invalid(
      'ENDPOINT.INVALID_CONFIG',
      `Invalid endpoint configuration: ${Object.keys(fields).join(', ')}`,
      fields,
    );
  }
}

function scheduleErrors(schedule: EndpointSchedule, now: Date, options: ConfigValidationOptions) {
  const errors: Record<string, string> = {};
  switch (schedule?.kind) {
    case 'cron': {
      const zone = validateTimezone(schedule.timezone);
      if (zone) errors['schedule.timezone'] = zone;
      const cron = validateCron(schedule.cron);
      if (cron) errors['schedule.cron'] = cron;
      if (schedule.preset !== undefined) Object.assign(errors, presetMismatch(schedule));
      break;
    }
    case 'interval': {
      const error = integerError(
        schedule.intervalMs,
        ENDPOINT_LIMITS.minIntervalMs,
        ENDPOINT_LIMITS.longestIntervalMs,
      );
      if (error) errors['schedule.intervalMs'] = error;
      break;
    }
    case 'once': {
      const runAt = instant(schedule.runAt);
      if (runAt === undefined || runAt === null)
        errors['schedule.runAt'] = 'must be an ISO 8601 instant with an offset';
      else if (options.scheduleIsNew && runAt.getTime() <= now.getTime())
        errors['schedule.runAt'] = 'must be in the future';
      break;
    }
    default:
      errors.schedule = 'give exactly one of cron, intervalMs, runAt';
  }
  return errors;
}

/** A kept preset must be valid and still produce the schedule's cron. */
function presetMismatch(schedule: Extract<EndpointSchedule, { kind: 'cron' }>): Record<string, string> {
  const { preset, timezone } = schedule;
  if (typeof preset !== 'object' || preset === null) return { 'schedule.preset': 'must be a preset object' };
  const errors = presetErrors({ ...preset, timezone });
  if (Object.keys(errors).length > 0) return errors;
  return presetToCron({ ...preset, timezone }) === schedule.cron
    ? {}
    : { 'schedule.preset': 'does not match the cron expression' };
}

//////////////////////////////////////// Small checks

function urlError(value: string): string | null {
  if (typeof value !== 'string' || value.length > ENDPOINT_LIMITS.maxUrlLength) {
    return `must be a URL of at most ${ENDPOINT_LIMITS.maxUrlLength} characters`;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  return urlUserInfoError(
    url,
    'send credentials as a secret header instead (e.g. Authorization in secretHeaders)',
  );
}

function headersError(headers: Record<string, string>): string | null {
  if (!isRecord(headers)) return 'must be an object of header names to strings';
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME_PATTERN.test(name)) return `"${name}" is not a valid header name`;
    if (typeof value !== 'string' || /[\r\n]/.test(value)) return `"${name}" must be a single-line string`;
  }
  return null;
}

function triggersError(triggers: string[]): string | null {
  if (!Array.isArray(triggers)) return 'must be a list of trigger names';
  if (triggers.length > ENDPOINT_LIMITS.maxTriggers) return `at most ${ENDPOINT_LIMITS.maxTriggers} triggers`;
  const bad = triggers.find((name) => typeof name !== 'string' || !TRIGGER_NAME_PATTERN.test(name));
  if (bad !== undefined)
    return `"${String(bad)}" is not a valid trigger name (lower-case letters, digits, . _ -)`;
  return new Set(triggers).size === triggers.length ? null : 'must not repeat a name';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Structural equality of JSON values (key order ignored), to tell real changes from no-ops. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left).filter((k) => left[k] !== undefined);
  const otherKeys = Object.keys(right).filter((k) => right[k] !== undefined);
  return keys.length === otherKeys.length && keys.every((k) => jsonEqual(left[k], right[k]));
}
