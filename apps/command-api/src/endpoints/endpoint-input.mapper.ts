import {
  DomainError,
  EndpointChanges,
  endpointConfigWithDefaults,
  HintProposal,
  invalid,
  presetToCron,
  resolveSchedule,
  ScheduleChange,
  scheduleChangeFromInput,
  SchedulePreset,
} from '@cronicorn/domain';
import type { CronPreset, EndpointConfig, EndpointSchedule } from '@cronicorn/events';
import type { CreateEndpointRequestDto } from './create-endpoint/create-endpoint.request.dto';
import type { EndpointSettingsDto } from './endpoint-settings.request.dto';
import type { ProposeHintRequestDto } from './propose-hint/propose-hint.request.dto';
import type { SchedulePresetDto } from './schedule-preset.request.dto';
import type { UpdateEndpointRequestDto } from './update-endpoint/update-endpoint.request.dto';

// Pure mapping from REST bodies to the endpoint decider's inputs, and of the decider's field
// names back to the REST ones: the body says `cron`, the configuration `schedule.cron`.

/** Encrypts secret header values; given by the caller so this file stays pure. */
export type EncryptSecrets = (values: Record<string, string>) => Record<string, string>;

const SCHEDULE_FIELDS = ['cron', 'intervalMs', 'runAt', 'schedule'] as const;
const EXACTLY_ONE = 'give exactly one of cron (with timezone), intervalMs, runAt, schedule (a preset)';

/** The complete configuration of a new endpoint, secrets encrypted. */
export function configFromCreate(dto: CreateEndpointRequestDto, encrypt: EncryptSecrets): EndpointConfig {
  const change = scheduleFromBody(dto);
  if (change === undefined) {
    throw invalid(
      'ENDPOINT.INVALID_CONFIG',
      `Invalid schedule: ${EXACTLY_ONE}`,
      Object.fromEntries(SCHEDULE_FIELDS.map((field) => [field, EXACTLY_ONE])),
    );
  }
  const schedule = withRestFields(() => resolveSchedule(change, null), restFieldsOf(dto));
  return endpointConfigWithDefaults({
    ...settings(dto, encrypt),
    name: dto.name,
    url: dto.url,
    schedule,
  });
}

/** The changes a PATCH asks for; fields left out are absent, `null` clears a nullable field. */
export function changesFromUpdate(dto: UpdateEndpointRequestDto, encrypt: EncryptSecrets): EndpointChanges {
  const schedule = scheduleFromBody(dto);
  return {
    ...settings(dto, encrypt),
    ...(dto.name !== undefined && { name: dto.name }),
    ...(dto.url !== undefined && { url: dto.url }),
    ...(schedule !== undefined && { schedule }),
  };
}

function scheduleFromBody(dto: EndpointSettingsDto): ScheduleChange | undefined {
  if (dto.schedule !== undefined) {
    const others = (['cron', 'timezone', 'intervalMs', 'runAt'] as const).filter((f) => dto[f] !== undefined);
    if (others.length > 0) {
      throw invalid(
        'ENDPOINT.INVALID_CONFIG',
        `Invalid schedule: ${EXACTLY_ONE}`,
        Object.fromEntries([...others, 'schedule'].map((field) => [field, EXACTLY_ONE])),
      );
    }
    return presetChange(dto.schedule);
  }
  return withRestFields(() =>
    scheduleChangeFromInput({
      cron: dto.cron,
      timezone: dto.timezone,
      intervalMs: dto.intervalMs,
      runAt: dto.runAt,
    }),
  );
}

/**
 * The cron schedule a preset stands for, the preset kept with it (day names in lower case).
 * An unusable preset is an `invalid` error naming `schedule.every`, `schedule.at`, … .
 */
export function presetChange(input: SchedulePresetDto): ScheduleChange {
  const { every, at, on, timezone } = input;
  const normalizedOn = typeof on === 'string' ? on.toLowerCase() : on;
  const preset: CronPreset = { every, at, ...(normalizedOn !== undefined && { on: normalizedOn }) };
  const full: SchedulePreset = { ...preset, timezone };
  return { kind: 'cron', cron: presetToCron(full), timezone, preset };
}

/**
 * How errors on the configuration's schedule paths are named for this body: `cron` and
 * `timezone` are top-level fields, but a preset's fields live under `schedule.`.
 */
export function restFieldsOf(dto: EndpointSettingsDto): (field: string) => string {
  return dto.schedule === undefined ? restFieldName : (field) => field;
}

/** The schedule as the request gave it: the cron fields, and the preset when there is one. */
export function scheduleEcho(schedule: EndpointSchedule): {
  cron: string | null;
  timezone: string | null;
  schedule: (CronPreset & { timezone: string }) | null;
} {
  if (schedule.kind !== 'cron') return { cron: null, timezone: null, schedule: null };
  const { cron, timezone, preset } = schedule;
  return { cron, timezone, schedule: preset ? { ...preset, timezone } : null };
}

function settings(dto: EndpointSettingsDto, encrypt: EncryptSecrets): Partial<EndpointConfig> {
  const picked: Partial<EndpointConfig> = {
    description: dto.description,
    method: dto.method,
    headers: dto.headers,
    secretHeaders: dto.secretHeaders === undefined ? undefined : encrypt(dto.secretHeaders),
    body: dto.body,
    timeoutMs: dto.timeoutMs,
    startAt: dto.startAt,
    endAt: dto.endAt,
    maxRuns: dto.maxRuns,
    minIntervalMs: dto.minIntervalMs,
    maxIntervalMs: dto.maxIntervalMs,
    maxAttempts: dto.maxAttempts,
    jitterMs: dto.jitterMs,
    catchUp: dto.catchUp,
    overlap: dto.overlap,
    pauseAfterFailures: dto.pauseAfterFailures,
    triggers: dto.triggers,
  };
  return Object.fromEntries(Object.entries(picked).filter(([, value]) => value !== undefined));
}

//////////////////////////////////////// Hints

const HINT_VALUE_FIELD = { interval: 'intervalMs', one_shot: 'at', pause: 'until' } as const;

/** The proposal a user's `POST …/hints` makes; the decider runs the AI's `validateHint` on it. */
export function hintFromBody(dto: ProposeHintRequestDto): HintProposal {
  const valueField = HINT_VALUE_FIELD[dto.kind];
  const fields: Record<string, string> = {};
  for (const field of Object.values(HINT_VALUE_FIELD)) {
    if (field === valueField && dto[field] === undefined) fields[field] = `required for kind ${dto.kind}`;
    if (field !== valueField && dto[field] !== undefined) fields[field] = `only for kind ${kindOf(field)}`;
  }
  if (dto.kind === 'pause' && dto.ttlMinutes !== undefined) {
    fields.ttlMinutes = 'a pause hint expires at its own end; leave ttlMinutes out';
  }
  if (Object.keys(fields).length > 0) {
    throw invalid('HINT.INVALID', `Invalid hint: ${Object.keys(fields).join(', ')}`, fields);
  }
  const value = dto[valueField] as number | string;
  return {
    kind: dto.kind,
    value,
    ...(dto.ttlMinutes !== undefined && { ttlMinutes: dto.ttlMinutes }),
    reason: dto.reason,
    source: 'api',
  };
}

function kindOf(field: string): string {
  return Object.entries(HINT_VALUE_FIELD).find(([, name]) => name === field)?.[0] ?? '?';
}

/** Renames the `value` field of a hint rejection to the body field the kind uses. */
export function hintFieldsForRest(kind: keyof typeof HINT_VALUE_FIELD) {
  return (field: string) => (field === 'value' ? HINT_VALUE_FIELD[kind] : field);
}

//////////////////////////////////////// Field names

/** `schedule.cron` → `cron`: the decider names configuration paths, the body has flat fields. */
export function restFieldName(field: string): string {
  return field.startsWith('schedule.') ? field.slice('schedule.'.length) : field;
}

/**
 * Runs `fn`; an `invalid` DomainError it throws comes out with its fields renamed for the
 * REST body (by default `restFieldName`). Other errors pass unchanged.
 */
export function withRestFields<T>(fn: () => T, rename: (field: string) => string = restFieldName): T {
  try {
    return fn();
  } catch (error) {
    throw renamedFields(error, rename);
  }
}

/** Async twin of {@link withRestFields}. */
export async function withRestFieldsAsync<T>(
  fn: () => Promise<T>,
  rename: (field: string) => string = restFieldName,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw renamedFields(error, rename);
  }
}

function renamedFields(error: unknown, rename: (field: string) => string): unknown {
  if (!(error instanceof DomainError) || error.kind !== 'invalid' || !error.fields) return error;
  let message = error.message;
  const fields: Record<string, string> = {};
  for (const [field, why] of Object.entries(error.fields)) {
    fields[rename(field)] = why;
    message = message.split(field).join(rename(field));
  }
  const renamed = new DomainError(error.code, message, error.kind, fields);
  renamed.stack = error.stack;
  return renamed;
}
