import { ApiProperty } from '@nestjs/swagger';

export class CreateSubscriptionResponseDto {
  @ApiProperty({ example: '5b0d7c1e-8f2a-4d3b-9c4e-1a2b3c4d5e6f' })
  id!: string;

  @ApiProperty({ example: '5b0d7c1e-8f2a-4d3b-9c4e-1a2b3c4d5e6f' })
  subscriptionId!: string;

  @ApiProperty({ description: 'Global position of the WebhookSubscriptionCreated event', example: '1042' })
  position!: string;

  @ApiProperty({ example: 'https://hooks.example.com/cronicorn' })
  url!: string;

  @ApiProperty({ type: [String], example: ['RunFinished'] })
  eventTypes!: string[];

  @ApiProperty({
    description:
      'The signing secret. Shown once: it is stored encrypted and never returned again. ' +
      'Verify `cronicorn-signature: v1=<hex HMAC-SHA256(secret, "<cronicorn-timestamp>.<raw body>")>`.',
    example: 'whsec_Q2hhbmdlTWU6dGhpcyBpcyBub3QgYSByZWFsIHNlY3JldA',
  })
  secret!: string;

  @ApiProperty({ example: '2025-03-10T12:00:00.000Z' })
  createdAt!: string;
}
