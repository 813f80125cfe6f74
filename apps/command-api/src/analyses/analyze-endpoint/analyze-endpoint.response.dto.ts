import { ApiProperty } from '@nestjs/swagger';
import { PlannerToolCallDto } from '../../endpoints/list-analyses/analysis.response.dto';

/** The analysis `POST /v1/endpoints/:id/analyze` ran, as recorded in `planner-<endpointId>`. */
export class AnalyzeAnswerDto {
  @ApiProperty({ format: 'uuid', description: 'The analysis id' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  analysisId!: string;

  @ApiProperty({ type: String, description: 'Global position of the analysis event', example: '4242' })
  position!: string;

  @ApiProperty({ enum: ['completed', 'failed'], example: 'completed' })
  status!: 'completed' | 'failed';

  @ApiProperty({
    enum: ['ai', 'heuristic'],
    description: 'heuristic without OPENAI_API_KEY or over the daily token budget (the summary says so)',
  })
  planner!: 'ai' | 'heuristic';

  @ApiProperty({ example: 'gpt-4o-mini' })
  model!: string;

  @ApiProperty({ example: 812 })
  tokensIn!: number;

  @ApiProperty({ example: 64 })
  tokensOut!: number;

  @ApiProperty({
    type: [PlannerToolCallDto],
    description: 'Each call, accepted (maybe clamped) or rejected and why',
  })
  toolCalls!: PlannerToolCallDto[];

  @ApiProperty({ nullable: true, type: String, example: 'Healthy: no change.' })
  summary!: string | null;

  @ApiProperty({
    enum: ['timeout', 'error', 'malformed'],
    nullable: true,
    description: 'Why the LLM cycle was skipped (status failed)',
    example: null,
  })
  failureReason!: 'timeout' | 'error' | 'malformed' | null;

  @ApiProperty({ nullable: true, type: String, example: null })
  error!: string | null;

  @ApiProperty({ format: 'date-time' })
  at!: string;
}
