import { Body, Controller, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { created } from '../../common/responses';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { JobWriteAnswerDto } from '../../resources/write-result';
import { CreateJobCommand } from './create-job.command';
import { CreateJobRequestDto } from './create-job.request.dto';

@ApiTags('jobs')
@TenantAuth()
@Controller('v1/jobs')
export class CreateJobHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post()
  @IdempotencyKeyHeader()
  @ApiOperation({
    summary: 'Create a job',
    description: 'A job groups endpoints; pausing it pauses all of them.',
  })
  @ApiCreatedResponse({ type: JobWriteAnswerDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Invalid body (fields name the culprits)' })
  async create(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Body() body: CreateJobRequestDto,
  ) {
    const result = await this.commandBus.execute(
      new CreateJobCommand({ auth, correlationId }, body.name, body.description ?? null),
    );
    return created('job', result.id, result.position);
  }
}
