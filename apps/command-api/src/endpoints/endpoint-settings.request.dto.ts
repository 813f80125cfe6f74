import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsString,
  IsTimeZone,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { ENDPOINT_LIMITS, HTTP_METHODS, TRIGGER_NAME_PATTERN } from '@cronicorn/domain';
import type { CatchUpPolicy, HttpMethod, OverlapPolicy } from '@cronicorn/events';
import { REQUEST_LIMITS } from '../resources/limits';
import {
  IsCleanText,
  IsHeaderMap,
  IsIsoInstant,
  IsJsonWithin,
  KeepRaw,
  ValidateIfPresent,
  ValidateUnlessAbsent,
} from '../resources/request-validation';
import { SchedulePresetDto } from './schedule-preset.request.dto';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const headerLimits = { maxEntries: REQUEST_LIMITS.maxHeaders, maxBytes: REQUEST_LIMITS.maxHeaderBytes };
const URL_OPTIONS = { protocols: ['http', 'https'], require_protocol: true, require_tld: false };

/**
 * The endpoint fields that create and update share. Nullable fields accept `null` to clear
 * them; every other field refuses `null`. Exactly one of `cron`, `intervalMs`, `runAt` and
 * the preset `schedule` sets the schedule (the handler checks the combination, the endpoint
 * decider the rest).
 */
export class EndpointSettingsDto {
  @ApiPropertyOptional({
    description: 'Purpose of the endpoint; the AI planner reads it.',
    maxLength: ENDPOINT_LIMITS.maxDescriptionLength,
    nullable: true,
    type: String,
    example: 'Sends the dunning e-mails for overdue invoices',
  })
  @ValidateUnlessAbsent()
  @IsString()
  @MaxLength(ENDPOINT_LIMITS.maxDescriptionLength)
  @IsCleanText({ singleLine: false, visible: false })
  readonly description?: string | null;

  @ApiPropertyOptional({ enum: HTTP_METHODS, default: 'GET', example: 'POST' })
  @ValidateIfPresent()
  @IsIn(HTTP_METHODS, { message: `method must be one of ${HTTP_METHODS.join(', ')}` })
  readonly method?: HttpMethod;

  @ApiPropertyOptional({
    description:
      `Plain request headers (at most ${REQUEST_LIMITS.maxHeaders}, ${REQUEST_LIMITS.maxHeaderBytes} bytes); shown in responses. ` +
      'Connection and framing headers (Connection, Content-Length, Transfer-Encoding, Upgrade, Keep-Alive, TE, Trailer) are not sent: the HTTP client sets them.',
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { 'content-type': 'application/json', 'x-team': 'billing' },
  })
  @KeepRaw()
  @ValidateIfPresent()
  @IsHeaderMap(headerLimits)
  readonly headers?: Record<string, string>;

  @ApiPropertyOptional({
    description:
      'Headers whose values are encrypted at rest and never returned: responses list their names only. Replaces the whole set when given.',
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { authorization: 'Bearer sk_live_…' },
  })
  @KeepRaw()
  @ValidateIfPresent()
  @IsHeaderMap(headerLimits)
  readonly secretHeaders?: Record<string, string>;

  @ApiPropertyOptional({
    description: `Request body, any JSON up to ${REQUEST_LIMITS.maxBodyBytes} bytes: an object, array, number or boolean is sent as JSON (\`application/json\`), a string as it is (\`text/plain\` unless a \`content-type\` header says otherwise).`,
    nullable: true,
    oneOf: [
      { type: 'object' },
      { type: 'array', items: {} },
      { type: 'string' },
      { type: 'number' },
      { type: 'boolean' },
    ],
    example: { mode: 'overdue', dryRun: false },
  })
  @KeepRaw()
  @ValidateIfPresent()
  @IsJsonWithin(REQUEST_LIMITS.maxBodyBytes)
  readonly body?: unknown;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: ENDPOINT_LIMITS.maxTimeoutMs,
    default: 30_000,
    example: 10_000,
  })
  @ValidateIfPresent()
  @IsInt()
  @Min(1)
  @Max(ENDPOINT_LIMITS.maxTimeoutMs)
  readonly timeoutMs?: number;

  @ApiPropertyOptional({
    description:
      'Cron expression (5 fields, or 6 with seconds), evaluated in `timezone`. Exclusive with intervalMs and runAt.',
    maxLength: 256,
    example: '0 9 * * 1-5',
  })
  @ValidateIfPresent()
  @IsString()
  @MaxLength(256)
  @IsCleanText()
  readonly cron?: string;

  @ApiPropertyOptional({
    description:
      'IANA time zone of the cron expression; default UTC. Only with cron. On clock-change days a time the change skips runs once, at the instant it denotes in the offset before the change (02:30 in Berlin on the spring day runs at 03:30 CEST), and a repeated time runs once, at its first occurrence; an expression whose hour field is `*` follows elapsed time.',
    example: 'Europe/Berlin',
  })
  @ValidateIfPresent()
  @IsString()
  @MaxLength(64)
  @IsTimeZone({ message: 'timezone must be an IANA time zone such as Europe/Berlin' })
  readonly timezone?: string;

  @ApiPropertyOptional({
    description: `Run every intervalMs milliseconds, from the last start. Exclusive with cron and runAt.`,
    minimum: ENDPOINT_LIMITS.minIntervalMs,
    maximum: ENDPOINT_LIMITS.longestIntervalMs,
    example: 300_000,
  })
  @ValidateIfPresent()
  @IsInt()
  @Min(ENDPOINT_LIMITS.minIntervalMs)
  @Max(ENDPOINT_LIMITS.longestIntervalMs)
  readonly intervalMs?: number;

  @ApiPropertyOptional({
    description:
      'Run once at this instant (ISO 8601 with an offset, in the future). Exclusive with cron and intervalMs.',
    format: 'date-time',
    example: '2030-01-01T09:00:00+01:00',
  })
  @ValidateIfPresent()
  @IsIsoInstant()
  readonly runAt?: string;

  @ApiPropertyOptional({
    description:
      'A schedule preset instead of cron: stored as the equivalent cron expression in `timezone`, and shown in both forms. Exclusive with cron, timezone, intervalMs and runAt.',
    type: SchedulePresetDto,
    example: { every: 'week', at: '09:30', on: 'mon', timezone: 'Europe/Berlin' },
  })
  @ValidateIfPresent()
  @IsObject({ message: 'schedule must be an object {every, at, on?, timezone}' })
  @ValidateNested()
  @Type(() => SchedulePresetDto)
  readonly schedule?: SchedulePresetDto;

  @ApiPropertyOptional({
    description: 'No run before this instant.',
    format: 'date-time',
    nullable: true,
    type: String,
    example: '2030-01-01T00:00:00Z',
  })
  @ValidateUnlessAbsent()
  @IsIsoInstant()
  readonly startAt?: string | null;

  @ApiPropertyOptional({
    description: 'No run after this instant.',
    format: 'date-time',
    nullable: true,
    type: String,
    example: '2030-12-31T23:59:59Z',
  })
  @ValidateUnlessAbsent()
  @IsIsoInstant()
  readonly endAt?: string | null;

  @ApiPropertyOptional({
    description: 'Stop after this many runs.',
    minimum: 1,
    nullable: true,
    type: Number,
    example: 100,
  })
  @ValidateUnlessAbsent()
  @IsInt()
  @Min(1)
  @Max(MAX_SAFE)
  readonly maxRuns?: number | null;

  @ApiPropertyOptional({
    description: 'Floor of every plan, including AI hints.',
    minimum: ENDPOINT_LIMITS.minIntervalMs,
    maximum: ENDPOINT_LIMITS.longestIntervalMs,
    nullable: true,
    type: Number,
    example: 60_000,
  })
  @ValidateUnlessAbsent()
  @IsInt()
  @Min(ENDPOINT_LIMITS.minIntervalMs)
  @Max(ENDPOINT_LIMITS.longestIntervalMs)
  readonly minIntervalMs?: number | null;

  @ApiPropertyOptional({
    description: 'Cap of what adaptation (backoff, interval hints) may stretch to; must be ≥ minIntervalMs.',
    minimum: ENDPOINT_LIMITS.minIntervalMs,
    maximum: ENDPOINT_LIMITS.longestIntervalMs,
    nullable: true,
    type: Number,
    example: 3_600_000,
  })
  @ValidateUnlessAbsent()
  @IsInt()
  @Min(ENDPOINT_LIMITS.minIntervalMs)
  @Max(ENDPOINT_LIMITS.longestIntervalMs)
  readonly maxIntervalMs?: number | null;

  @ApiPropertyOptional({
    description: 'Attempts per run (1 = no retry).',
    minimum: 1,
    maximum: ENDPOINT_LIMITS.maxAttempts,
    default: 1,
    example: 3,
  })
  @ValidateIfPresent()
  @IsInt()
  @Min(1)
  @Max(ENDPOINT_LIMITS.maxAttempts)
  readonly maxAttempts?: number;

  @ApiPropertyOptional({
    description:
      'Deterministic spread (0 to jitterMs) added to each planned run. With intervalMs the next run counts from the jittered start, so runs come every intervalMs + jitterMs / 2 on average.',
    minimum: 0,
    maximum: REQUEST_LIMITS.maxJitterMs,
    default: 0,
    example: 5_000,
  })
  @ValidateIfPresent()
  @IsInt()
  @Min(0)
  @Max(REQUEST_LIMITS.maxJitterMs)
  readonly jitterMs?: number;

  @ApiPropertyOptional({
    description:
      'Runs missed during downtime: one run now (once), none (skip), or each of them (all, bounded).',
    enum: ['once', 'skip', 'all'],
    default: 'once',
    example: 'once',
  })
  @ValidateIfPresent()
  @IsIn(['once', 'skip', 'all'], { message: 'catchUp must be one of once, skip, all' })
  readonly catchUp?: CatchUpPolicy;

  @ApiPropertyOptional({
    description: 'When a run is due while the previous one is in flight.',
    enum: ['skip', 'queue_one'],
    default: 'skip',
    example: 'skip',
  })
  @ValidateIfPresent()
  @IsIn(['skip', 'queue_one'], { message: 'overlap must be one of skip, queue_one' })
  readonly overlap?: OverlapPolicy;

  @ApiPropertyOptional({
    description: 'Pause after this many consecutive failures.',
    minimum: 1,
    nullable: true,
    type: Number,
    example: 5,
  })
  @ValidateUnlessAbsent()
  @IsInt()
  @Min(1)
  @Max(MAX_SAFE)
  readonly pauseAfterFailures?: number | null;

  @ApiPropertyOptional({
    description: `Named triggers this endpoint listens to (POST /v1/triggers/:name); at most ${ENDPOINT_LIMITS.maxTriggers}.`,
    type: [String],
    maxItems: ENDPOINT_LIMITS.maxTriggers,
    example: ['invoice.created', 'deploy-finished'],
  })
  @ValidateIfPresent()
  @IsArray()
  @ArrayMaxSize(ENDPOINT_LIMITS.maxTriggers)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(TRIGGER_NAME_PATTERN, {
    each: true,
    message: 'triggers must be names of lower-case letters, digits, ".", "_" or "-" (at most 64)',
  })
  readonly triggers?: string[];
}

export { URL_OPTIONS };
