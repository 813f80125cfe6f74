import { ApiProperty } from '@nestjs/swagger';

/** One line of the delivery log: an attempt, or (attempt 0, `pending`) a delivery not tried yet. */
export class DeliveryResponseDto {
  @ApiProperty({ description: 'The delivery (one per subscription and event)', example: '311' })
  deliveryId!: string;

  @ApiProperty({
    description: 'Also sent as `cronicorn-event-id`',
    example: 'c2a4e7d0-3f1b-4b8e-9a55-1d2e3f4a5b6c',
  })
  eventId!: string;

  @ApiProperty({ example: 'RunFinished' })
  eventType!: string;

  @ApiProperty({ description: '1 for the first attempt; 0 for a delivery not attempted yet', example: 1 })
  attempt!: number;

  @ApiProperty({
    enum: ['pending', 'delivered', 'retry', 'failed', 'cancelled'],
    description:
      '`delivered`: a 2xx answer; `retry`: failed, tried again at `nextAttemptAt`; `failed`: last attempt failed; ' +
      '`cancelled`: the subscription was deleted; `pending`: not attempted yet',
    example: 'retry',
  })
  outcome!: string;

  @ApiProperty({ type: Number, nullable: true, description: 'HTTP status of the answer', example: 500 })
  statusCode!: number | null;

  @ApiProperty({ type: String, nullable: true, example: 'HTTP 500' })
  error!: string | null;

  @ApiProperty({
    description: 'When the attempt was made (or the delivery queued)',
    example: '2025-03-10T12:00:05.000Z',
  })
  at!: string;

  @ApiProperty({ type: String, nullable: true, example: '2025-03-10T12:00:35.000Z' })
  nextAttemptAt!: string | null;
}

export class DeliveryListResponseDto {
  @ApiProperty({ type: [DeliveryResponseDto], description: 'Newest first' })
  deliveries!: DeliveryResponseDto[];
}
