import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { notFound } from '@cronicorn/domain';
import { PG_POOL } from '@cronicorn/platform';
import { getRun } from '@cronicorn/read-models';
import type { Pool } from 'pg';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { MinPositionHeader } from '../../common/swagger';
import { RunIdPipe } from '../../resources/resource-id.pipe';
import { RunResponseDto } from '../run.response.dto';

@ApiTags('runs')
@TenantAuth()
@Controller('v1/runs')
export class GetRunHttpController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get(':id')
  @MinPositionHeader()
  @ApiOperation({
    summary: 'A run',
    description:
      'Status, timing, lateness, HTTP status, attempts, error and a bounded snippet of the response. A requested run appears once it has started.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: RunResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async get(@Auth() auth: TenantAuthContext, @Param('id', RunIdPipe) runId: string): Promise<RunResponseDto> {
    const run = await getRun(this.pool, auth.tenantId, runId);
    if (!run) throw notFound('RUN.NOT_FOUND', 'Run not found');
    return run;
  }
}
