import { ApiProperty } from '@nestjs/swagger';
import type { RunTrigger } from '@cronicorn/events';
import type { RunStatusView, RunView } from '@cronicorn/read-models';

export const RUN_STATUSES: readonly RunStatusView[] = ['running', 'success', 'failed', 'timeout'];

export class RunResponseSnippetDto {
  @ApiProperty({ description: 'The start of the response body (bounded)', example: '{"ok":true}' })
  snippet!: string;

  @ApiProperty({ description: 'Bytes of the whole body', example: 11 })
  bytes!: number;

  @ApiProperty({ example: false })
  truncated!: boolean;

  @ApiProperty({ nullable: true, type: String, example: 'application/json' })
  contentType!: string | null;
}

/** `GET /v1/runs/:id`, from the runs read model. */
export class RunResponseDto implements RunView {
  @ApiProperty({ format: 'uuid', example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' })
  id!: string;

  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  tenantId!: string;

  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  endpointId!: string;

  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  jobId!: string;

  @ApiProperty({ enum: RUN_STATUSES, example: 'success' })
  status!: RunStatusView;

  @ApiProperty({ enum: ['schedule', 'manual', 'trigger', 'retry'], example: 'schedule' })
  trigger!: RunTrigger;

  @ApiProperty({
    nullable: true,
    type: String,
    format: 'uuid',
    description: 'The run this one retries',
    example: null,
  })
  retryOf!: string | null;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  scheduledFor!: string;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.120Z' })
  startedAt!: string;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2025-03-01T08:00:00.302Z' })
  finishedAt!: string | null;

  @ApiProperty({ description: 'startedAt − scheduledFor', example: 120 })
  lateMs!: number;

  @ApiProperty({ nullable: true, type: Number, example: 182 })
  durationMs!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 200 })
  httpStatus!: number | null;

  @ApiProperty({ nullable: true, type: Number, description: 'HTTP attempts inside the run', example: 1 })
  attempts!: number | null;

  @ApiProperty({ description: 'Deliveries of the work item (2 after a dispatcher crash)', example: 1 })
  attempt!: number;

  @ApiProperty({ nullable: true, type: String, example: null })
  error!: string | null;

  @ApiProperty({ type: RunResponseSnippetDto, nullable: true })
  response!: RunResponseSnippetDto | null;

  @ApiProperty({ nullable: true, type: Number, description: 'From a Retry-After header', example: null })
  retryAfterMs!: number | null;

  @ApiProperty({
    nullable: true,
    type: [String],
    description:
      'Placeholders of the body template this run could not fill (sent as null or empty text); null without a template or when every one was filled',
    example: null,
  })
  templateUnresolved!: string[] | null;
}

export class RunPageDto {
  @ApiProperty({ type: [RunResponseDto] })
  items!: RunResponseDto[];

  @ApiProperty({ nullable: true, type: String, example: null })
  nextCursor!: string | null;
}
