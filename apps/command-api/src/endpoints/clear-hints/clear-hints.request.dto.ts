import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { ENDPOINT_LIMITS } from '@cronicorn/domain';
import { IsCleanText, ValidateIfPresent } from '../../resources/request-validation';

/** `DELETE /v1/endpoints/:id/hints?reason=`. */
export class ClearHintsQueryDto {
  @ApiPropertyOptional({
    description: 'Why; recorded in AIHintsCleared.',
    maxLength: ENDPOINT_LIMITS.maxReasonLength,
    default: 'Cleared through the API',
    example: 'Incident resolved',
  })
  @ValidateIfPresent()
  @IsString()
  @MaxLength(ENDPOINT_LIMITS.maxReasonLength)
  @IsCleanText()
  readonly reason?: string;
}
