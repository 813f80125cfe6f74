import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { MAX_PAUSE_REASON_LENGTH } from './limits';
import { IsCleanText, IsIsoInstant, ValidateUnlessAbsent } from './request-validation';

/** `POST /v1/jobs/:id/pause` and `POST /v1/endpoints/:id/pause`. */
export class PauseRequestDto {
  @ApiPropertyOptional({
    description:
      'Resume by itself at this instant (ISO 8601 with an offset, in the future). Left out or null: paused until resumed.',
    format: 'date-time',
    nullable: true,
    type: String,
    example: '2030-01-01T08:00:00Z',
  })
  @ValidateUnlessAbsent()
  @IsIsoInstant()
  readonly until?: string | null;

  @ApiPropertyOptional({
    maxLength: MAX_PAUSE_REASON_LENGTH,
    nullable: true,
    type: String,
    example: 'Maintenance window of the billing provider',
  })
  @ValidateUnlessAbsent()
  @IsString()
  @MaxLength(MAX_PAUSE_REASON_LENGTH)
  @IsCleanText({ singleLine: false })
  readonly reason?: string | null;
}
