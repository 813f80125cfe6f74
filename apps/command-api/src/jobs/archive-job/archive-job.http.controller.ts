import { Controller, Delete, Param } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiAcceptedResponse, ApiNotFoundResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { accepted } from '../../common/responses';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { JobIdPipe } from '../../resources/resource-id.pipe';
import { JobWriteAnswerDto } from '../../resources/write-result';
import { ArchiveJobCommand } from './archive-job.command';

@ApiTags('jobs')
@TenantAuth()
@Controller('v1/jobs')
export class ArchiveJobHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Delete(':id')
  @ApiOperation({
    summary: 'Archive a job',
    description:
      'Terminal: its endpoints never run again. Archiving an archived job changes nothing (position null).',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: JobWriteAnswerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async archive(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', JobIdPipe) jobId: string,
  ) {
    const result = await this.commandBus.execute(new ArchiveJobCommand({ auth, correlationId }, jobId));
    return accepted('job', result.id, result.position);
  }
}
