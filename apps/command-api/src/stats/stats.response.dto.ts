import { ApiProperty } from '@nestjs/swagger';
import type { DistributionSummary, RunStats } from '@cronicorn/read-models';

export class RunCountsDto {
  @ApiProperty({ description: 'Finished runs: success + failed + timeout', example: 120 })
  total!: number;

  @ApiProperty({ example: 114 })
  success!: number;

  @ApiProperty({ example: 5 })
  failed!: number;

  @ApiProperty({ example: 1 })
  timeout!: number;

  @ApiProperty({ description: 'Plans not started within their lateness budget (RunMissed)', example: 0 })
  missed!: number;

  @ApiProperty({ description: 'Plans skipped by the overlap or catch-up policy (RunSkipped)', example: 2 })
  skipped!: number;
}

export class DistributionDto implements DistributionSummary {
  @ApiProperty({ description: 'Samples', example: 120 })
  count!: number;

  @ApiProperty({ nullable: true, type: Number, example: 184 })
  avg!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 41 })
  min!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 2_950 })
  max!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 160 })
  p50!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 420 })
  p95!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 1_900 })
  p99!: number | null;
}

export class AiUsageDto {
  @ApiProperty({ description: 'Completed AI analyses', example: 12 })
  analyses!: number;

  @ApiProperty({ description: 'Failed AI analyses', example: 1 })
  failed!: number;

  @ApiProperty({ example: 18_200 })
  tokensIn!: number;

  @ApiProperty({ example: 2_100 })
  tokensOut!: number;
}

/**
 * `GET /v1/stats`: from the hourly buckets of the read models, over every whole UTC hour that
 * overlaps the window asked for. Percentiles are estimated from log-spaced buckets (at most
 * about 19 % off, and always within the observed min and max).
 */
export class StatsResponseDto implements RunStats {
  @ApiProperty({
    format: 'date-time',
    description: 'Start of the first hour covered',
    example: '2025-03-01T00:00:00.000Z',
  })
  from!: string;

  @ApiProperty({
    format: 'date-time',
    description: 'End of the last hour covered',
    example: '2025-03-02T00:00:00.000Z',
  })
  to!: string;

  @ApiProperty({ type: RunCountsDto, description: 'Runs by status, counted in the hour they started' })
  runs!: RunCountsDto;

  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'success / total; null without finished runs',
    example: 0.95,
  })
  successRate!: number | null;

  @ApiProperty({ type: DistributionDto, description: 'Duration of finished runs, ms' })
  latencyMs!: DistributionDto;

  @ApiProperty({
    type: DistributionDto,
    description: 'startedAt − scheduledFor of scheduled runs, ms (manual, trigger and retry runs have none)',
  })
  latenessMs!: DistributionDto;

  @ApiProperty({ type: AiUsageDto })
  ai!: AiUsageDto;
}

/** `GET /v1/jobs/:id/stats`. */
export class JobStatsResponseDto extends StatsResponseDto {
  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  jobId!: string;
}
