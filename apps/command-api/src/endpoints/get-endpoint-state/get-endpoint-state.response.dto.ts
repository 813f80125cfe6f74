import { ApiProperty } from '@nestjs/swagger';
import type { HintKind, HintSource } from '@cronicorn/events';
import { EndpointConfigViewDto } from '../endpoint-config.view';

export class EndpointPauseDto {
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'null: until resumed',
    example: null,
  })
  until!: string | null;

  @ApiProperty({ nullable: true, type: String, example: 'Maintenance' })
  reason!: string | null;

  @ApiProperty({ enum: ['user', 'failures'], example: 'user' })
  by!: 'user' | 'failures';

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  pausedAt!: string;
}

export class ActiveHintDto {
  @ApiProperty({ format: 'uuid', example: '3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f' })
  hintId!: string;

  @ApiProperty({ enum: ['interval', 'one_shot', 'pause'], example: 'interval' })
  kind!: HintKind;

  @ApiProperty({ oneOf: [{ type: 'number' }, { type: 'string', format: 'date-time' }], example: 60_000 })
  value!: number | string;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T10:00:00.000Z' })
  expiresAt!: string;

  @ApiProperty({ enum: ['ai', 'heuristic', 'api'], example: 'api' })
  source!: HintSource;

  @ApiProperty({ example: 'Incident INC-42' })
  reason!: string;

  @ApiProperty({ nullable: true, type: String, example: null })
  model!: string | null;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T09:00:00.000Z' })
  proposedAt!: string;
}

/** `GET /v1/endpoints/:id/state?asOf=`: the endpoint folded from its own stream up to `asOf`. */
export class EndpointStateResponseDto {
  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  endpointId!: string;

  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  jobId!: string;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T09:00:00.000Z' })
  asOf!: string;

  @ApiProperty({ description: 'Stream version at that instant (events replayed).', example: 3 })
  version!: number;

  @ApiProperty({
    enum: ['active', 'paused', 'archived'],
    description: 'paused only while a user or failure pause was in force',
    example: 'active',
  })
  status!: 'active' | 'paused' | 'archived';

  @ApiProperty({ type: EndpointConfigViewDto })
  config!: EndpointConfigViewDto;

  @ApiProperty({ type: EndpointPauseDto, nullable: true })
  pause!: EndpointPauseDto | null;

  @ApiProperty({ type: [ActiveHintDto], description: 'Hints unexpired at that instant' })
  hints!: ActiveHintDto[];

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  updatedAt!: string;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null })
  failuresResetAt!: string | null;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null })
  archivedAt!: string | null;
}
