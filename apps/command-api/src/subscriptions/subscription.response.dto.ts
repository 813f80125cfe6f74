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
}

export class SubscriptionListResponseDto {
  @ApiProperty({ type: [SubscriptionResponseDto], description: 'Not deleted, oldest first' })
  subscriptions!: SubscriptionResponseDto[];
}
