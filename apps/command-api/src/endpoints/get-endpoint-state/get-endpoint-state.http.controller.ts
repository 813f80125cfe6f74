import { Controller, Get, Param, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { activeHints, endpointDecider, endpointPauseAt } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { CommandExecutor } from '../../common/command-executor';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { ReadsFrom } from '../../common/min-position.interceptor';
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { configView } from '../endpoint-config.view';
import { EndpointStateQueryDto } from './get-endpoint-state.request.dto';
import { EndpointStateResponseDto } from './get-endpoint-state.response.dto';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class GetEndpointStateHttpController {
  constructor(private readonly executor: CommandExecutor) {}

  @Get(':id/state')
  // The endpoint's own stream, read directly: a committed write is already there.
  @ReadsFrom('inline')
  @ApiOperation({
    summary: 'The endpoint as it was at an instant',
    description:
      'Replays the endpoint stream up to `asOf` through the endpoint decider (the event log is the truth, not a read model): configuration, pause and hints in force then.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: EndpointStateResponseDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'asOf is not an ISO 8601 instant' })
  @ApiNotFoundResponse({
    type: ErrorResponseDto,
    description: 'No such endpoint for this tenant, or not yet created at asOf',
  })
  async state(
    @Auth() auth: TenantAuthContext,
    @Param('id', EndpointIdPipe) endpointId: string,
    @Query() query: EndpointStateQueryDto,
  ): Promise<EndpointStateResponseDto> {
    const asOf = new Date(query.asOf);
    const { state, version } = await this.executor.load(
      streamIds.endpoint(endpointId),
      endpointDecider,
      auth,
      'ENDPOINT.NOT_FOUND',
      { asOf },
    );
    // `load` throws for a stream with no event up to asOf; the guard narrows the type.
    if (state.status === 'empty')
      throw new Error(`endpoint ${endpointId} folded to empty at version ${version}`);
    const pause = endpointPauseAt(state, asOf);
    return {
      endpointId: state.endpointId,
      jobId: state.jobId,
      asOf: asOf.toISOString(),
      version,
      status: state.status === 'archived' ? 'archived' : pause ? 'paused' : 'active',
      config: configView(state.config),
      pause,
      hints: activeHints(state, asOf),
      createdAt: state.createdAt,
      updatedAt: state.updatedAt,
      failuresResetAt: state.failuresResetAt,
      archivedAt: state.status === 'archived' ? state.archivedAt : null,
    };
  }
}
