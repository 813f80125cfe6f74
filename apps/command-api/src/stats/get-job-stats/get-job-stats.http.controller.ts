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
import { getJob, jobStats } from '@cronicorn/read-models';
import type { Pool } from 'pg';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { MinPositionHeader } from '../../common/swagger';
import { JobIdPipe } from '../../resources/resource-id.pipe';
import { StatsQueryDto, statsWindow } from '../stats.request.dto';
import { JobStatsResponseDto } from '../stats.response.dto';

@ApiTags('stats')
@TenantAuth()
@Controller('v1/jobs')
export class GetJobStatsHttpController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get(':id/stats')
  @MinPositionHeader()
  @ApiOperation({
    summary: "A job's run statistics",
    description:
      'The statistics of GET /v1/stats for the endpoints of one job (archived ones included), over the whole UTC hours ' +
      'overlapping [from, to) (default: the last 24 h; at most 90 days).',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: JobStatsResponseDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: '`fields` names from or to' })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async get(
    @Auth() auth: TenantAuthContext,
    @Param('id', JobIdPipe) jobId: string,
    @Query() query: StatsQueryDto,
  ): Promise<JobStatsResponseDto> {
    const { from, to } = statsWindow(query, new Date());
    const job = await getJob(this.pool, auth.tenantId, jobId);
    if (!job) throw notFound('JOB.NOT_FOUND', 'Job not found');
    return { jobId, ...(await jobStats(this.pool, auth.tenantId, jobId, from, to)) };
  }
}
