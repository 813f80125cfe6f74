import { Body, Controller, Param, Patch } from '@nestjs/common';
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
import { accepted } from '../../common/responses';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { JobIdPipe } from '../../resources/resource-id.pipe';
import { JobWriteAnswerDto } from '../../resources/write-result';
import { UpdateJobCommand } from './update-job.command';
import { UpdateJobRequestDto } from './update-job.request.dto';

@ApiTags('jobs')
@TenantAuth()
@Controller('v1/jobs')
export class UpdateJobHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Patch(':id')
  @ApiOperation({ summary: 'Rename a job or change its description' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: JobWriteAnswerDto, description: 'position is null when nothing changed' })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description: 'The job is archived, or a concurrent change won',
  })
  async update(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', JobIdPipe) jobId: string,
    @Body() body: UpdateJobRequestDto,
  ) {
    const changes = {
      ...(body.name !== undefined && { name: body.name }),
      ...(body.description !== undefined && { description: body.description }),
    };
    const result = await this.commandBus.execute(
      new UpdateJobCommand({ auth, correlationId }, jobId, changes),
    );
    return accepted('job', result.id, result.position);
  }
}
