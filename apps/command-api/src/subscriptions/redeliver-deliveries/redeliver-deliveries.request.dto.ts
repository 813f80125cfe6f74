import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIsoInstant, ValidateUnlessAbsent } from '../../resources/request-validation';

/** `POST /v1/subscriptions/:id/redeliver`. */
export class RedeliverDeliveriesRequestDto {
  @ApiPropertyOptional({
    description:
      'Only the failed deliveries of events queued at or after this instant (ISO 8601 with an offset). Left out or null: every failed delivery still kept (7 days).',
    format: 'date-time',
    nullable: true,
    type: String,
    example: '2030-01-01T08:00:00Z',
  })
  @ValidateUnlessAbsent()
  @IsIsoInstant()
  readonly since?: string | null;
}
