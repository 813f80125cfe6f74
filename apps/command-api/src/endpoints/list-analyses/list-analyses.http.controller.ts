import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { notFound } from '@cronicorn/domain';
import { PG_POOL } from '@cronicorn/platform';
import { getEndpoint, listAnalyses } from '@cronicorn/read-models';
import type { Pool } from 'pg';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { MinPositionHeader } from '../../common/swagger';
import { pageOrBadCursor } from '../../resources/read-model-errors';
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { AnalysisPageDto } from './analysis.response.dto';
import { ListAnalysesQueryDto } from './list-analyses.request.dto';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class ListAnalysesHttpController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get(':id/analyses')
  @MinPositionHeader()
  @ApiOperation({
    summary: "The planner's analyses of an endpoint, newest first",
    description: 'Model, tokens, tool calls (accepted or rejected, and why), summary.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: AnalysisPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async list(
    @Auth() auth: TenantAuthContext,
    @Param('id', EndpointIdPipe) endpointId: string,
    @Query() query: ListAnalysesQueryDto,
  ): Promise<AnalysisPageDto> {
    // The list alone cannot tell another tenant's endpoint from a quiet one: 404 first.
    if (!(await getEndpoint(this.pool, auth.tenantId, endpointId))) {
      throw notFound('ENDPOINT.NOT_FOUND', 'Endpoint not found');
    }
    return pageOrBadCursor(() => listAnalyses(this.pool, auth.tenantId, endpointId, query));
  }
}
