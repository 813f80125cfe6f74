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
import { EndpointWriteAnswerDto } from '../../resources/write-result';
import { ResetFailuresCommand } from './reset-failures.command';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class ResetFailuresHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/reset-failures')
  @IdempotencyKeyHeader()
  @ApiOperation({
    summary: 'Reset the failure streak',
    description: 'Clears the consecutive-failure count, ending any backoff.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: EndpointWriteAnswerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Archived' })
  async reset(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', EndpointIdPipe) endpointId: string,
  ) {
    const result = await this.commandBus.execute(
      new ResetFailuresCommand({ auth, correlationId }, endpointId),
    );
    return accepted('endpoint', result.id, result.position);
  }
}
