import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { ENDPOINT_LIMITS } from '@cronicorn/domain';
import type { HintKind } from '@cronicorn/events';
import { IsCleanText, IsIsoInstant, ValidateIfPresent } from '../../resources/request-validation';

export const HINT_KINDS: readonly HintKind[] = ['interval', 'one_shot', 'pause'];

/**
 * `POST /v1/endpoints/:id/hints`: the same three hints the AI planner proposes, checked and
 * clamped to the endpoint's bounds by the same rules (`validateHint`), recorded with source `api`.
 * Give the value field of the kind: `intervalMs` (interval), `at` (one_shot) or `until` (pause).
 */
export class ProposeHintRequestDto {
  @ApiProperty({ enum: HINT_KINDS, example: 'interval' })
  @IsIn(HINT_KINDS, { message: 'kind must be one of interval, one_shot, pause' })
  readonly kind!: HintKind;

  @ApiPropertyOptional({
    description:
      'kind interval: run every intervalMs while the hint lasts (clamped to minIntervalMs..maxIntervalMs).',
    minimum: 1,
    example: 60_000,
  })
  @ValidateIfPresent()
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  readonly intervalMs?: number;

  @ApiPropertyOptional({
    description: 'kind one_shot: one extra run at this instant (future, within 7 days).',
    format: 'date-time',
    example: '2030-01-01T09:30:00Z',
  })
  @ValidateIfPresent()
  @IsIsoInstant()
  readonly at?: string;

  @ApiPropertyOptional({
    description:
      'kind pause: no runs until this instant (future; one beyond 7 days is shortened to 7 days, `requested` keeping what was asked).',
    format: 'date-time',
    example: '2030-01-01T12:00:00Z',
  })
  @ValidateIfPresent()
  @IsIsoInstant()
  readonly until?: string;

  @ApiPropertyOptional({
    description:
      'Life of an interval or one_shot hint in minutes (default 60; at most 7 days). Not for pause.',
    minimum: 1,
    example: 120,
  })
  @ValidateIfPresent()
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  readonly ttlMinutes?: number;

  @ApiProperty({
    maxLength: ENDPOINT_LIMITS.maxReasonLength,
    example: 'Incident INC-42: poll faster until it is resolved',
  })
  @IsString()
  @MaxLength(ENDPOINT_LIMITS.maxReasonLength)
  @IsCleanText({ singleLine: false })
  readonly reason!: string;
}
