import { ApiProperty } from '@nestjs/swagger';

class EventMetadataDto {
  @ApiProperty({ example: '3f0c8a9e-6a41-4d1f-9a35-0c2b1f7d9e10' })
  tenantId!: string;

  @ApiProperty({ required: false, example: 'b5e0…' })
  correlationId?: string;

  @ApiProperty({ required: false, example: 'b5e0…' })
  causationId?: string;

  @ApiProperty({ required: false, example: 'apikey:0b7f4c2e-…' })
  actor?: string;
}

/** The event envelope, as stored and as published on NATS (DESIGN §3). */
export class EventEnvelopeDto {
  @ApiProperty({ example: 'c2a4e7d0-3f1b-4b8e-9a55-1d2e3f4a5b6c' })
  id!: string;

  @ApiProperty({ example: 'JobCreated' })
  type!: string;

  @ApiProperty({ example: 1 })
  schemaVersion!: number;

  @ApiProperty({ example: 'job-7d1e0f4a-2b1c-4c55-9d3e-8f0a1b2c3d4e' })
  streamId!: string;

  @ApiProperty({ example: 1 })
  streamVersion!: number;

  @ApiProperty({ description: 'Global position (a bigint as a string)', example: '1042' })
  position!: string;

  @ApiProperty({ example: '3f0c8a9e-6a41-4d1f-9a35-0c2b1f7d9e10' })
  tenantId!: string;

  @ApiProperty({ example: '2025-03-10T12:00:00.000Z' })
  occurredAt!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The payload; secret header values appear only as `enc:v1:` ciphertexts',
  })
  data!: object;

  @ApiProperty({ type: EventMetadataDto })
  metadata!: EventMetadataDto;
}

export class ListEventsResponseDto {
  @ApiProperty({ type: [EventEnvelopeDto], description: 'In commit order' })
  events!: EventEnvelopeDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'Pass as `after` to continue: the last event\u2019s position (or the `after` you sent when the page is empty). ' +
      'Null only when there is nothing yet and no `after` was given.',
    example: '1042',
  })
  nextAfter!: string | null;
}
