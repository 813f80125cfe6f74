import { ApiProperty } from '@nestjs/swagger';
import type { AnalysisView } from '@cronicorn/read-models';

export class PlannerToolCallDto {
  @ApiProperty({
    enum: ['propose_interval', 'propose_next_time', 'pause_until', 'clear_hints'],
    example: 'propose_interval',
  })
  name!: string;

  @ApiProperty({
    description: 'Arguments as the planner gave them',
    example: { intervalMs: 60_000, ttlMinutes: 30, reason: 'errors rising' },
  })
  arguments!: unknown;

  @ApiProperty({ example: true })
  accepted!: boolean;

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Why it was rejected, or how it was clamped',
    example: null,
  })
  reason!: string | null;
}

/** One analysis cycle of the AI (or heuristic) planner. */
export class AnalysisResponseDto implements AnalysisView {
  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  id!: string;

  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  tenantId!: string;

  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  endpointId!: string;

  @ApiProperty({ enum: ['completed', 'failed'], example: 'completed' })
  status!: 'completed' | 'failed';

  @ApiProperty({ enum: ['ai', 'heuristic'], nullable: true, example: 'heuristic' })
  planner!: 'ai' | 'heuristic' | null;

  @ApiProperty({ example: 'heuristic-v1' })
  model!: string;

  @ApiProperty({ example: 0 })
  tokensIn!: number;

  @ApiProperty({ example: 0 })
  tokensOut!: number;

  @ApiProperty({ type: [PlannerToolCallDto] })
  toolCalls!: PlannerToolCallDto[];

  @ApiProperty({ nullable: true, type: String, example: 'Healthy: no change.' })
  summary!: string | null;

  @ApiProperty({ enum: ['timeout', 'error', 'malformed'], nullable: true, example: null })
  failureReason!: 'timeout' | 'error' | 'malformed' | null;

  @ApiProperty({ nullable: true, type: String, example: null })
  error!: string | null;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  at!: string;
}

export class AnalysisPageDto {
  @ApiProperty({ type: [AnalysisResponseDto] })
  items!: AnalysisResponseDto[];

  @ApiProperty({ nullable: true, type: String, example: null })
  nextCursor!: string | null;
}
