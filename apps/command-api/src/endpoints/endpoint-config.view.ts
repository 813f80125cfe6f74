import { ApiProperty } from '@nestjs/swagger';
import type {
  CatchUpPolicy,
  EndpointConfig,
  EndpointSchedule,
  HttpMethod,
  OverlapPolicy,
} from '@cronicorn/events';
import type { EndpointConfigView } from '@cronicorn/read-models';

/** The configuration as responses show it (as the read model does): secret header names only. */
export function configView(config: EndpointConfig): EndpointConfigView {
  const { secretHeaders, ...rest } = config;
  return { ...rest, secretHeaderNames: Object.keys(secretHeaders ?? {}).sort() };
}

export class CronPresetDto {
  @ApiProperty({ enum: ['day', 'week', 'month'], example: 'week' })
  every!: 'day' | 'week' | 'month';

  @ApiProperty({ description: 'Local time, HH:MM', example: '09:30' })
  at!: string;

  @ApiProperty({
    required: false,
    description: 'week: day name; month: day of the month',
    oneOf: [{ type: 'string' }, { type: 'integer' }],
    example: 'mon',
  })
  on?: string | number;
}

export class EndpointScheduleDto {
  @ApiProperty({ enum: ['cron', 'interval', 'once'], example: 'cron' })
  kind!: EndpointSchedule['kind'];

  @ApiProperty({ required: false, example: '0 9 * * 1-5' })
  cron?: string;

  @ApiProperty({ required: false, example: 'Europe/Berlin' })
  timezone?: string;

  @ApiProperty({
    required: false,
    type: CronPresetDto,
    description: 'The preset the cron was made from, when the endpoint was given one',
  })
  preset?: CronPresetDto;

  @ApiProperty({ required: false, example: 300_000 })
  intervalMs?: number;

  @ApiProperty({ required: false, format: 'date-time', example: '2030-01-01T08:00:00.000Z' })
  runAt?: string;
}

export class EndpointConfigViewDto implements EndpointConfigView {
  @ApiProperty({ example: 'Send dunning e-mails' })
  name!: string;

  @ApiProperty({ nullable: true, type: String, example: 'Sends the dunning e-mails for overdue invoices' })
  description!: string | null;

  @ApiProperty({ example: 'https://billing.example.com/hooks/dunning' })
  url!: string;

  @ApiProperty({ enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'], example: 'POST' })
  method!: HttpMethod;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { 'content-type': 'application/json' },
  })
  headers!: Record<string, string>;

  @ApiProperty({
    description: 'Names of the secret headers; their values are never returned.',
    type: [String],
    example: ['authorization'],
  })
  secretHeaderNames!: string[];

  @ApiProperty({ description: 'Any JSON, or null.', nullable: true, example: { mode: 'overdue' } })
  body!: unknown;

  @ApiProperty({ example: 10_000 })
  timeoutMs!: number;

  @ApiProperty({ type: EndpointScheduleDto })
  schedule!: EndpointSchedule;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null })
  startAt!: string | null;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null })
  endAt!: string | null;

  @ApiProperty({ nullable: true, type: Number, example: null })
  maxRuns!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 60_000 })
  minIntervalMs!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 3_600_000 })
  maxIntervalMs!: number | null;

  @ApiProperty({ example: 3 })
  maxAttempts!: number;

  @ApiProperty({ example: 0 })
  jitterMs!: number;

  @ApiProperty({ enum: ['once', 'skip', 'all'], example: 'once' })
  catchUp!: CatchUpPolicy;

  @ApiProperty({ enum: ['skip', 'queue_one'], example: 'skip' })
  overlap!: OverlapPolicy;

  @ApiProperty({ nullable: true, type: Number, example: 5 })
  pauseAfterFailures!: number | null;

  @ApiProperty({ type: [String], example: ['invoice.created'] })
  triggers!: string[];
}
