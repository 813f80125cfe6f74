import { Controller, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { accepted } from '../../common/responses';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { JobIdPipe } from '../../resources/resource-id.pipe';
import { JobWriteAnswerDto } from '../../resources/write-result';
import { ResumeJobCommand } from './resume-job.command';

@ApiTags('jobs')
@TenantAuth()
@Controller('v1/jobs')
export class ResumeJobHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/resume')
  @IdempotencyKeyHeader()
  @ApiOperation({ summary: 'Resume a paused job' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: JobWriteAnswerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Not paused, or archived' })
  async resume(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', JobIdPipe) jobId: string,
  ) {
    const result = await this.commandBus.execute(new ResumeJobCommand({ auth, correlationId }, jobId));
    return accepted('job', result.id, result.position);
  }
}
