import { Controller, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { accepted } from '../../common/responses';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { RunIdPipe } from '../../resources/resource-id.pipe';
import { RetryRunAnswerDto } from './retry-run.response.dto';
import { RetryRunCommand } from './retry-run.command';

@ApiTags('runs')
@TenantAuth()
@Controller('v1/runs')
export class RetryRunHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/retry')
  @ApiOperation({
    summary: 'Run the same request again now',
    description:
      "Records RunRequested (source retry, retryOf: the original run) on the run's endpoint: a new run with the endpoint's " +
      'current request, outside the schedule (the planned next run stays where it is). A run started by a named trigger is ' +
      'retried with the same trigger payload. Follow the new run with GET /v1/runs/:runId.',
  })
  @ApiParam({ name: 'id', format: 'uuid', description: 'The run to retry' })
  @ApiAcceptedResponse({ type: RetryRunAnswerDto })
  @ApiNotFoundResponse({
    type: ErrorResponseDto,
    description: 'No such run (or not started yet) for this tenant',
  })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The endpoint is archived' })
  // Lowest, so the route's own 409 description above replaces its generic one.
  @IdempotencyKeyHeader()
  async retry(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', RunIdPipe) runId: string,
  ) {
    const result = await this.commandBus.execute(new RetryRunCommand({ auth, correlationId }, runId));
    return accepted('run', result.runId, result.position, {
      retryOf: result.retryOf,
      endpointId: result.endpointId,
    });
  }
}
