import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow, IsIn, IsString, IsTimeZone, Matches, MaxLength } from 'class-validator';

export const PRESET_EVERY = ['day', 'week', 'month'] as const;
export const PRESET_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/**
 * `schedule: {every, at, on?, timezone}`: a schedule for people who do not write cron. It is
 * stored as the equivalent cron expression, with the preset kept beside it.
 */
export class SchedulePresetDto {
  @ApiProperty({ enum: PRESET_EVERY, example: 'week' })
  @IsIn(PRESET_EVERY, { message: `every must be one of ${PRESET_EVERY.join(', ')}` })
  readonly every!: (typeof PRESET_EVERY)[number];

  @ApiProperty({
    description: 'Local wall-clock time, HH:MM (24 h)',
    pattern: '^([01]\\d|2[0-3]):[0-5]\\d$',
    example: '09:30',
  })
  @IsString()
  @Matches(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'at must be a time of day, HH:MM' })
  readonly at!: string;

  @ApiPropertyOptional({
    description:
      'week: a day name (mon … sun); month: a day of the month, 1 to 31 (months without that day are skipped, as in cron); not with day.',
    oneOf: [
      { type: 'string', enum: [...PRESET_DAYS] },
      { type: 'integer', minimum: 1, maximum: 31 },
    ],
    example: 'mon',
  })
  // Checked against `every` by the domain (`presetErrors`), which names `schedule.on`.
  @Allow()
  readonly on?: string | number;

  @ApiProperty({ description: 'IANA time zone of `at`', example: 'Europe/Berlin' })
  @IsString()
  @MaxLength(64)
  @IsTimeZone({ message: 'timezone must be an IANA time zone such as Europe/Berlin' })
  readonly timezone!: string;
}
