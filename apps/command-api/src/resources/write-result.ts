import { ApiProperty } from '@nestjs/swagger';
import type { TenantAuthContext } from '../auth/auth-context';
import { CommandAnswerDto } from '../common/command-answer.dto';

/** What a command handler of jobs, endpoints or runs returns to its controller. */
export interface WriteResult {
  /** The aggregate the command was about. */
  id: string;
  /** Global position of the last event appended; null when the command changed nothing. */
  position: string | null;
}

/** Who sends a command, and the id that follows it through every event it causes. */
export interface CommandOrigin {
  auth: TenantAuthContext;
  correlationId: string;
}

export class JobWriteAnswerDto extends CommandAnswerDto {
  @ApiProperty({ format: 'uuid', example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10' })
  jobId!: string;
}

export class EndpointWriteAnswerDto extends CommandAnswerDto {
  @ApiProperty({ format: 'uuid', example: '6f1d2c3b-8a9e-4b7c-9d0e-1f2a3b4c5d6e' })
  endpointId!: string;
}

export class TriggerAnswerDto extends EndpointWriteAnswerDto {
  @ApiProperty({
    description: 'Id of the requested run: `GET /v1/runs/:runId`.',
    format: 'uuid',
    example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
  })
  runId!: string;
}

/** A hint as recorded, after clamping to the endpoint's bounds. */
export class RecordedHintDto {
  @ApiProperty({ enum: ['interval', 'one_shot', 'pause'], example: 'interval' })
  kind!: string;

  @ApiProperty({
    description: 'Interval in ms (interval) or ISO instant (one_shot: run at; pause: until), after clamping.',
    oneOf: [{ type: 'number' }, { type: 'string', format: 'date-time' }],
    example: 60_000,
  })
  value!: number | string;

  @ApiProperty({
    description: 'The value asked for, when clamping changed it; else null.',
    oneOf: [{ type: 'number' }, { type: 'string' }],
    nullable: true,
    example: null,
  })
  requested!: number | string | null;

  @ApiProperty({ format: 'date-time', example: '2030-01-01T10:00:00.000Z' })
  expiresAt!: string;
}

export class HintAnswerDto extends EndpointWriteAnswerDto {
  @ApiProperty({ format: 'uuid', example: '3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f' })
  hintId!: string;

  @ApiProperty({
    type: RecordedHintDto,
    nullable: true,
    description: 'null when the hint was already recorded',
  })
  hint!: RecordedHintDto | null;
}
