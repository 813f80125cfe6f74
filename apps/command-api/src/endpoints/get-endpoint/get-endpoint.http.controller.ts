import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { notFound } from '@cronicorn/domain';
import { PG_POOL } from '@cronicorn/platform';
import { getEndpoint } from '@cronicorn/read-models';
import type { Pool } from 'pg';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { MinPositionHeader } from '../../common/swagger';
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { endpointResponse, EndpointResponseDto } from '../endpoint.response.dto';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class GetEndpointHttpController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get(':id')
  @MinPositionHeader()
  @ApiOperation({
    summary: 'An endpoint',
    description:
      'Configuration (secret headers by name only), status, the next planned run and its reason, the last run, the failure streak and the active hints.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: EndpointResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async get(
    @Auth() auth: TenantAuthContext,
    @Param('id', EndpointIdPipe) endpointId: string,
  ): Promise<EndpointResponseDto> {
    const endpoint = await getEndpoint(this.pool, auth.tenantId, endpointId);
    if (!endpoint) throw notFound('ENDPOINT.NOT_FOUND', 'Endpoint not found');
    return endpointResponse(endpoint);
  }
}
