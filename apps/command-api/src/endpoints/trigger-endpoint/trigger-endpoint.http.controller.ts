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
import { ErrorResponseDto } from '../../common/error-response.dto';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { accepted } from '../../common/responses';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { TriggerAnswerDto } from '../../resources/write-result';
import { TriggerEndpointCommand } from './trigger-endpoint.command';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class TriggerEndpointHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/trigger')
  @IdempotencyKeyHeader()
  @ApiOperation({
    summary: 'Run an endpoint now',
    description:
      'Records RunRequested (source manual) outside the schedule; follow the run with GET /v1/runs/:runId.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: TriggerAnswerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Archived' })
  async trigger(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', EndpointIdPipe) endpointId: string,
  ) {
    const result = await this.commandBus.execute(
      new TriggerEndpointCommand({ auth, correlationId }, endpointId),
    );
    return accepted('endpoint', result.id, result.position, { runId: result.runId });
  }
}
