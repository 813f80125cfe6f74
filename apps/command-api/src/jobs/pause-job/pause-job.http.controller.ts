import { Body, Controller, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
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
import { PauseRequestDto } from '../../resources/pause.request.dto';
import { JobIdPipe } from '../../resources/resource-id.pipe';
import { JobWriteAnswerDto } from '../../resources/write-result';
import { PauseJobCommand } from './pause-job.command';

@ApiTags('jobs')
@TenantAuth()
@Controller('v1/jobs')
export class PauseJobHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/pause')
  @IdempotencyKeyHeader()
  @ApiOperation({
    summary: 'Pause every endpoint of a job',
    description:
      'Until `until`, or until resumed. Pausing a paused job sets its new end; the same `until` changes nothing.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: JobWriteAnswerDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Archived' })
  async pause(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', JobIdPipe) jobId: string,
    @Body() body: PauseRequestDto,
  ) {
    const command = new PauseJobCommand(
      { auth, correlationId },
      jobId,
      body.until ?? null,
      body.reason ?? null,
    );
    const result = await this.commandBus.execute(command);
    return accepted('job', result.id, result.position);
  }
}
