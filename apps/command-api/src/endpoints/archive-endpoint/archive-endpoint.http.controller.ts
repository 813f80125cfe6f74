import { Controller, Param, Delete } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiAcceptedResponse, ApiNotFoundResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { accepted } from '../../common/responses';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { EndpointWriteAnswerDto } from '../../resources/write-result';
import { ArchiveEndpointCommand } from './archive-endpoint.command';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class ArchiveEndpointHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Delete(':id')
  @ApiOperation({
    summary: 'Archive an endpoint',
    description:
      'Terminal: it never runs again. Archiving an archived endpoint changes nothing (position null).',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: EndpointWriteAnswerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async archive(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', EndpointIdPipe) endpointId: string,
  ) {
    const result = await this.commandBus.execute(
      new ArchiveEndpointCommand({ auth, correlationId }, endpointId),
    );
    return accepted('endpoint', result.id, result.position);
  }
}
