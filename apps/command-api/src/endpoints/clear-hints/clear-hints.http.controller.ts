import { Controller, Delete, Param, Query } from '@nestjs/common';
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
import { accepted } from '../../common/responses';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { EndpointWriteAnswerDto } from '../../resources/write-result';
import { ClearHintsCommand } from './clear-hints.command';
import { ClearHintsQueryDto } from './clear-hints.request.dto';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class ClearHintsHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Delete(':id/hints')
  @ApiOperation({
    summary: 'Remove every active hint',
    description: 'The baseline schedule applies again. With no active hint nothing changes (position null).',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: EndpointWriteAnswerDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Archived' })
  async clear(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', EndpointIdPipe) endpointId: string,
    @Query() query: ClearHintsQueryDto,
  ) {
    const reason = query.reason ?? 'Cleared through the API';
    const result = await this.commandBus.execute(
      new ClearHintsCommand({ auth, correlationId }, endpointId, reason),
    );
    return accepted('endpoint', result.id, result.position);
  }
}
