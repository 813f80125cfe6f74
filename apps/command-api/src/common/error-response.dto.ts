import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ErrorBody } from './api-error';

/** The body of every error answer (Swagger schema). */
export class ErrorResponseDto implements ErrorBody {
  @ApiProperty({ description: 'Stable error code', example: 'VALIDATION_FAILED' })
  error!: string;

  @ApiProperty({ description: 'Human-readable explanation', example: 'Invalid input: name' })
  message!: string;

  @ApiPropertyOptional({
    description: 'Field path → what is wrong with it (400 only)',
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { name: 'must not be empty', 'schedule.cron': 'expected 5 fields' },
  })
  fields?: Record<string, string>;
}
