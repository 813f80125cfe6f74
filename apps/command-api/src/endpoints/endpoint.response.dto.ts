import { ApiProperty } from '@nestjs/swagger';
import { NO_RUN_REASONS } from '@cronicorn/read-models';
import type { EndpointStatusView, EndpointView, NoRunReason } from '@cronicorn/read-models';
import { CronPresetDto, EndpointConfigViewDto } from './endpoint-config.view';
import { scheduleEcho } from './endpoint-input.mapper';
import { ActiveHintDto, EndpointPauseDto } from './get-endpoint-state/get-endpoint-state.response.dto';

const STATUSES = ['active', 'paused', 'archived'];

export class NextRunDto {
  @ApiProperty({
    format: 'uuid',
    description: 'Id the run will have',
    example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
  })
  runId!: string;

  @ApiProperty({ format: 'date-time', example: '2025-03-03T08:00:00.000Z' })
  at!: string;

  @ApiProperty({ description: 'Why the governor chose this time', example: 'cron baseline' })
  reason!: string;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T09:00:00.000Z' })
  plannedAt!: string;
}

export class LastRunDto {
  @ApiProperty({ format: 'uuid', example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' })
  runId!: string;

  @ApiProperty({ enum: ['running', 'success', 'failed', 'timeout'], example: 'success' })
  status!: 'running' | 'success' | 'failed' | 'timeout';

  @ApiProperty({ nullable: true, type: Number, example: 200 })
  httpStatus!: number | null;

  @ApiProperty({ nullable: true, type: Number, example: 182 })
  durationMs!: number | null;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.120Z' })
  startedAt!: string;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2025-03-01T08:00:00.302Z' })
  finishedAt!: string | null;
}

export class LastAnalysisDto {
  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  analysisId!: string;

  @ApiProperty({ enum: ['completed', 'failed'], example: 'completed' })
  status!: 'completed' | 'failed';

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  at!: string;

  @ApiProperty({ enum: ['ai', 'heuristic'], nullable: true, example: 'heuristic' })
  planner!: 'ai' | 'heuristic' | null;

  @ApiProperty({ nullable: true, type: String, example: 'gpt-4o-mini' })
  model!: string | null;
}

export class RecordedHintViewDto extends ActiveHintDto {
  @ApiProperty({
    description: 'The value asked for when clamping changed it',
    nullable: true,
    oneOf: [{ type: 'number' }, { type: 'string' }],
    example: null,
  })
  requested!: number | string | null;
}

/** A preset schedule as requests give it: `{every, at, on?, timezone}`. */
export class SchedulePresetViewDto extends CronPresetDto {
  @ApiProperty({ example: 'Europe/Berlin' })
  timezone!: string;
}

/** `GET /v1/endpoints/:id`, from the endpoints read model. Secret header values never appear. */
export class EndpointResponseDto implements EndpointView {
  @ApiProperty({ format: 'uuid', example: '6f1d2c3b-8a9e-4b7c-9d0e-1f2a3b4c5d6e' })
  id!: string;

  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  tenantId!: string;

  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  jobId!: string;

  @ApiProperty({ example: 'Send dunning e-mails' })
  name!: string;

  @ApiProperty({ nullable: true, type: String, example: 'Sends the dunning e-mails for overdue invoices' })
  description!: string | null;

  @ApiProperty({ type: EndpointConfigViewDto })
  config!: EndpointConfigViewDto;

  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'The cron expression that runs (config.schedule.cron), also for a preset; null for other schedules',
    example: '30 9 * * 1',
  })
  cron!: string | null;

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Time zone of the cron',
    example: 'Europe/Berlin',
  })
  timezone!: string | null;

  @ApiProperty({
    type: SchedulePresetViewDto,
    nullable: true,
    description: 'The preset the endpoint was given, as it was given; null when it has none',
  })
  schedule!: SchedulePresetViewDto | null;

  @ApiProperty({
    enum: STATUSES,
    description: "The endpoint's own status; an expired pause reads as active.",
    example: 'active',
  })
  status!: EndpointStatusView;

  @ApiProperty({ type: EndpointPauseDto, nullable: true })
  pause!: EndpointPauseDto | null;

  @ApiProperty({ description: 'The job is paused: the endpoint does not run either.', example: false })
  jobPaused!: boolean;

  @ApiProperty({
    enum: STATUSES,
    description: 'What the scheduler obeys (endpoint and job together).',
    example: 'active',
  })
  effectiveStatus!: EndpointStatusView;

  @ApiProperty({
    type: NextRunDto,
    nullable: true,
    description: 'The next planned run and the reason for its time',
  })
  nextRun!: NextRunDto | null;

  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'nextRun.at, or null when no run is planned (archived, paused without end, ended)',
    example: '2025-03-03T08:00:00.000Z',
  })
  nextRunAt!: string | null;

  @ApiProperty({
    nullable: true,
    enum: NO_RUN_REASONS,
    description:
      'Why no run is planned, when nextRun is null and the state says why: archived or paused without an end (the endpoint or its job), or a schedule that ended',
    example: null,
  })
  noRunReason!: NoRunReason | null;

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'nextRun.reason; when no run is planned, noRunReason',
    example: 'cron',
  })
  nextRunReason!: string | null;

  @ApiProperty({ type: LastRunDto, nullable: true })
  lastRun!: LastRunDto | null;

  @ApiProperty({ description: 'Consecutive failed or timed-out runs', example: 0 })
  failureStreak!: number;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2025-03-01T08:00:00.302Z' })
  lastSuccessAt!: string | null;

  @ApiProperty({ type: [RecordedHintViewDto], description: 'Hints in force now, at most one per kind' })
  activeHints!: RecordedHintViewDto[];

  @ApiProperty({ type: LastAnalysisDto, nullable: true })
  lastAnalysis!: LastAnalysisDto | null;

  @ApiProperty({ example: 42 })
  runsCount!: number;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', example: '2025-03-01T08:00:00.000Z' })
  updatedAt!: string;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null })
  archivedAt!: string | null;
}

/**
 * The read model's view plus the flat `nextRunAt` / `nextRunReason` of DESIGN §6, and the
 * schedule in the forms a request gives it (`cron` + `timezone`, and a preset `schedule`).
 */
export function endpointResponse(view: EndpointView): EndpointResponseDto {
  return {
    ...view,
    ...scheduleEcho(view.config.schedule),
    nextRunAt: view.nextRun?.at ?? null,
    nextRunReason: view.nextRun?.reason ?? view.noRunReason,
  };
}

export class EndpointPageDto {
  @ApiProperty({ type: [EndpointResponseDto] })
  items!: EndpointResponseDto[];

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Pass as `cursor` for the next page; null on the last page.',
    example: null,
  })
  nextCursor!: string | null;
}
