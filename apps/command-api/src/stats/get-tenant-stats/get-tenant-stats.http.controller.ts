import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PG_POOL } from '@cronicorn/platform';
import { tenantStats } from '@cronicorn/read-models';
import type { Pool } from 'pg';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { MinPositionHeader } from '../../common/swagger';
import { StatsQueryDto, statsWindow } from '../stats.request.dto';
import { StatsResponseDto } from '../stats.response.dto';

@ApiTags('stats')
@TenantAuth()
@Controller('v1/stats')
export class GetTenantStatsHttpController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get()
  @MinPositionHeader()
  @ApiOperation({
    summary: "The tenant's run statistics",
    description:
      'Runs by status, success rate, latency and lateness percentiles, AI analyses and tokens, over the whole UTC hours ' +
      'overlapping [from, to) (default: the last 24 h; at most 90 days), from the hourly buckets of the read models.',
  })
  @ApiOkResponse({ type: StatsResponseDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: '`fields` names from or to' })
  async get(@Auth() auth: TenantAuthContext, @Query() query: StatsQueryDto): Promise<StatsResponseDto> {
    const { from, to } = statsWindow(query, new Date());
    return tenantStats(this.pool, auth.tenantId, from, to);
  }
}
