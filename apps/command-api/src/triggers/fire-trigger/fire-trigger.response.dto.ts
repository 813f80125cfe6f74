import { ApiProperty } from '@nestjs/swagger';
import type { TriggerSkipReason } from '@cronicorn/events';
import { CommandAnswerDto } from '../../common/command-answer.dto';

export class TriggeredRunDto {
  @ApiProperty({ format: 'uuid', example: '6f1d2c3b-8a9e-4b7c-9d0e-1f2a3b4c5d6e' })
  endpointId!: string;

  @ApiProperty({
    format: 'uuid',
    description: 'The requested run: `GET /v1/runs/:runId` once it has started',
    example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
  })
  runId!: string;
}

export class SkippedEndpointDto {
  @ApiProperty({ format: 'uuid', example: '1e0f9a8b-7c6d-4e5f-8a9b-6f1d2c3b4a5e' })
  endpointId!: string;

  @ApiProperty({
    enum: ['endpoint_paused', 'job_paused'],
    description: 'Why the listening endpoint got no run',
    example: 'endpoint_paused',
  })
  reason!: TriggerSkipReason;
}

/** 202 of `POST /v1/triggers/:name`. */
export class FireTriggerAnswerDto extends CommandAnswerDto {
  @ApiProperty({
    format: 'uuid',
    description: 'Id of this firing (`TriggerFired.triggerId`); equal to `id`',
    example: '3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f',
  })
  triggerId!: string;

  @ApiProperty({ type: [TriggeredRunDto], description: 'One run per active listening endpoint' })
  runs!: TriggeredRunDto[];

  @ApiProperty({ type: [SkippedEndpointDto], description: 'Listening endpoints that are paused' })
  skipped!: SkippedEndpointDto[];
}
