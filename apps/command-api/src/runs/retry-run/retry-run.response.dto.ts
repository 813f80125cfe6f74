import { ApiProperty } from '@nestjs/swagger';
import { CommandAnswerDto } from '../../common/command-answer.dto';

/** 202 of `POST /v1/runs/:id/retry`; `id` and `runId` are the new run. */
export class RetryRunAnswerDto extends CommandAnswerDto {
  @ApiProperty({
    format: 'uuid',
    description: 'The new run: `GET /v1/runs/:runId` once it has started',
    example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
  })
  runId!: string;

  @ApiProperty({
    format: 'uuid',
    description: 'The run retried',
    example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10',
  })
  retryOf!: string;

  @ApiProperty({ format: 'uuid', example: '6f1d2c3b-8a9e-4b7c-9d0e-1f2a3b4c5d6e' })
  endpointId!: string;
}
