import { ApiProperty } from '@nestjs/swagger';
import type { JobStatusView, JobView } from '@cronicorn/read-models';

export class JobPauseDto {
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'null: until resumed',
    example: '2030-01-01T08:00:00.000Z',
  })
  until!: string | null;

  @ApiProperty({ nullable: true, type: String, example: 'Maintenance window' })
  reason!: string | null;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  pausedAt!: string;
}

/** `GET /v1/jobs/:id`, from the jobs read model. */
export class JobResponseDto implements JobView {
  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  id!: string;

  @ApiProperty({ format: 'uuid', example: '5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a' })
  tenantId!: string;

  @ApiProperty({ example: 'Nightly billing' })
  name!: string;

  @ApiProperty({ nullable: true, type: String, example: 'Invoices, dunning and payment reconciliation' })
  description!: string | null;

  @ApiProperty({
    enum: ['active', 'paused', 'archived'],
    description: 'A pause whose until has passed reads as active.',
    example: 'active',
  })
  status!: JobStatusView;

  @ApiProperty({ type: JobPauseDto, nullable: true })
  pause!: JobPauseDto | null;

  @ApiProperty({ description: 'Endpoints not archived', example: 3 })
  endpointCount!: number;

  @ApiProperty({ example: 1 })
  archivedEndpointCount!: number;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  updatedAt!: string;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null })
  archivedAt!: string | null;
}

export class JobPageDto {
  @ApiProperty({ type: [JobResponseDto] })
  items!: JobResponseDto[];

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Pass as `cursor` for the next page; null on the last page.',
    example: null,
  })
  nextCursor!: string | null;
}
