import { Body, Controller, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
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
import { PauseRequestDto } from '../../resources/pause.request.dto';
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { EndpointWriteAnswerDto } from '../../resources/write-result';
import { PauseEndpointCommand } from './pause-endpoint.command';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class PauseEndpointHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/pause')
  @IdempotencyKeyHeader()
  @ApiOperation({
    summary: 'Pause an endpoint',
    description: 'Until `until`, or until resumed. Pausing again with the same `until` changes nothing.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: EndpointWriteAnswerDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Archived' })
  async pause(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', EndpointIdPipe) endpointId: string,
    @Body() body: PauseRequestDto,
  ) {
    const command = new PauseEndpointCommand(
      { auth, correlationId },
      endpointId,
      body.until ?? null,
      body.reason ?? null,
    );
    const result = await this.commandBus.execute(command);
    return accepted('endpoint', result.id, result.position);
  }
}
