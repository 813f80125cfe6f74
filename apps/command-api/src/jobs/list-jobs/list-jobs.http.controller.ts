import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PG_POOL } from '@cronicorn/platform';
import { listJobs } from '@cronicorn/read-models';
import type { Pool } from 'pg';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { MinPositionHeader } from '../../common/swagger';
import { pageOrBadCursor } from '../../resources/read-model-errors';
import { JobPageDto } from '../job.response.dto';
import { ListJobsQueryDto } from './list-jobs.request.dto';

@ApiTags('jobs')
@TenantAuth()
@Controller('v1/jobs')
export class ListJobsHttpController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get()
  @MinPositionHeader()
  @ApiOperation({
    summary: 'List jobs, newest first',
    description: 'Cursor pagination: pass nextCursor as cursor.',
  })
  @ApiOkResponse({ type: JobPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Bad limit, status or cursor' })
  list(@Auth() auth: TenantAuthContext, @Query() query: ListJobsQueryDto): Promise<JobPageDto> {
    return pageOrBadCursor(() => listJobs(this.pool, auth.tenantId, query));
  }
}
