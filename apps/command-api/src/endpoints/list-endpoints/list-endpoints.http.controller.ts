import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PG_POOL } from '@cronicorn/platform';
import { listEndpoints } from '@cronicorn/read-models';
import type { Pool } from 'pg';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { MinPositionHeader } from '../../common/swagger';
import { pageOrBadCursor } from '../../resources/read-model-errors';
import { EndpointPageDto, endpointResponse } from '../endpoint.response.dto';
import { ListEndpointsQueryDto } from './list-endpoints.request.dto';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class ListEndpointsHttpController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get()
  @MinPositionHeader()
  @ApiOperation({
    summary: 'List endpoints, newest first',
    description: 'Filter by job and status; cursor pagination.',
  })
  @ApiOkResponse({ type: EndpointPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Bad jobId, status, limit or cursor' })
  async list(
    @Auth() auth: TenantAuthContext,
    @Query() query: ListEndpointsQueryDto,
  ): Promise<EndpointPageDto> {
    const filter = { ...query, jobId: query.jobId?.toLowerCase() };
    const page = await pageOrBadCursor(() => listEndpoints(this.pool, auth.tenantId, filter));
    return { items: page.items.map(endpointResponse), nextCursor: page.nextCursor };
  }
}
