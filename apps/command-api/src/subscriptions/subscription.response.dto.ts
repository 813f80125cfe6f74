import { ApiProperty } from '@nestjs/swagger';

/** A subscription as lists show it: never its secret. */
export class SubscriptionResponseDto {
  @ApiProperty({ example: '5b0d7c1e-8f2a-4d3b-9c4e-1a2b3c4d5e6f' })
  id!: string;

  @ApiProperty({ example: 'https://hooks.example.com/cronicorn' })
  url!: string;

  @ApiProperty({ type: [String], example: ['RunFinished'] })
  eventTypes!: string[];

  @ApiProperty({ example: '2025-03-10T12:00:00.000Z' })
  createdAt!: string;

  @ApiProperty({
    example: 0,
    description: 'Failed calls in a row to the receiver; a delivered call resets it',
  })
  consecutiveFailures!: number;

  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description:
      'Set while the receiver keeps failing (WEBHOOK_CIRCUIT_FAILURES calls in a row): deliveries are not sent ' +
      'until then, each counting a failed attempt, and then one call probes the receiver',
  })
  deliveriesPausedUntil!: string | null;
}

export class SubscriptionListResponseDto {
  @ApiProperty({ type: [SubscriptionResponseDto], description: 'Not deleted, oldest first' })
  subscriptions!: SubscriptionResponseDto[];
}
