import { Body, Controller, Param, Patch } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { accepted } from '../../common/responses';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { EndpointWriteAnswerDto } from '../../resources/write-result';
import { UpdateEndpointCommand } from './update-endpoint.command';
import { UpdateEndpointRequestDto } from './update-endpoint.request.dto';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class UpdateEndpointHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Patch(':id')
  @ApiOperation({
    summary: 'Change an endpoint',
    description:
      'Fields left out keep their value; nullable fields take null to clear. The result is validated as a whole (for example minIntervalMs ≤ maxIntervalMs against the stored values).',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: EndpointWriteAnswerDto, description: 'position is null when nothing changed' })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Archived, or the change lost a race (retry)' })
  @ApiPayloadTooLargeResponse({ type: ErrorResponseDto })
  async update(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', EndpointIdPipe) endpointId: string,
    @Body() body: UpdateEndpointRequestDto,
  ) {
    const result = await this.commandBus.execute(
      new UpdateEndpointCommand({ auth, correlationId }, endpointId, body),
    );
    return accepted('endpoint', result.id, result.position);
  }
}
