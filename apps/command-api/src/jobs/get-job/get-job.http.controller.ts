import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { notFound } from '@cronicorn/domain';
import { PG_POOL } from '@cronicorn/platform';
import { getJob } from '@cronicorn/read-models';
import type { Pool } from 'pg';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { MinPositionHeader } from '../../common/swagger';
import { JobIdPipe } from '../../resources/resource-id.pipe';
import { JobResponseDto } from '../job.response.dto';

@ApiTags('jobs')
@TenantAuth()
@Controller('v1/jobs')
export class GetJobHttpController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  @Get(':id')
  @MinPositionHeader()
  @ApiOperation({
    summary: 'A job',
    description: 'Send x-min-position (from a write) to read your own write.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: JobResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async get(@Auth() auth: TenantAuthContext, @Param('id', JobIdPipe) jobId: string): Promise<JobResponseDto> {
    const job = await getJob(this.pool, auth.tenantId, jobId);
    if (!job) throw notFound('JOB.NOT_FOUND', 'Job not found');
    return job;
  }
}
