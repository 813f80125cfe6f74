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
import { getEndpoint, listRuns } from '@cronicorn/read-models';
import type { Pool } from 'pg';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { MinPositionHeader } from '../../common/swagger';
import { pageOrBadCursor } from '../../resources/read-model-errors';
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { RunPageDto } from '../run.response.dto';
import { ListRunsQueryDto } from './list-runs.request.dto';

@ApiTags('runs')
@TenantAuth()
@Controller('v1/endpoints')
export class ListRunsHttpController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get(':id/runs')
  @MinPositionHeader()
  @ApiOperation({
    summary: 'Runs of an endpoint, newest first',
    description:
      'Newest first by when each run first started (a redelivery changes `startedAt`, not the run\u2019s place, so pages never skip or repeat it). Filter by status; cursor pagination.',
  })
  @ApiParam({ name: 'id', format: 'uuid', description: 'Endpoint id' })
  @ApiOkResponse({ type: RunPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async list(
    @Auth() auth: TenantAuthContext,
    @Param('id', EndpointIdPipe) endpointId: string,
    @Query() query: ListRunsQueryDto,
  ): Promise<RunPageDto> {
    // The list alone cannot tell another tenant's endpoint from one that never ran: 404 first.
    if (!(await getEndpoint(this.pool, auth.tenantId, endpointId))) {
      throw notFound('ENDPOINT.NOT_FOUND', 'Endpoint not found');
    }
    return pageOrBadCursor(() => listRuns(this.pool, auth.tenantId, endpointId, query));
  }
}
