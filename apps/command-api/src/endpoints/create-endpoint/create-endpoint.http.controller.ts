import { Body, Controller, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { created } from '../../common/responses';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { JobIdPipe } from '../../resources/resource-id.pipe';
import { EndpointWriteAnswerDto } from '../../resources/write-result';
import { CreateEndpointCommand } from './create-endpoint.command';
import { CreateEndpointRequestDto } from './create-endpoint.request.dto';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/jobs')
export class CreateEndpointHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':jobId/endpoints')
  @IdempotencyKeyHeader()
  @ApiOperation({
    summary: 'Register an endpoint in a job',
    description:
      'An HTTP request and its schedule: exactly one of cron (+ timezone), intervalMs, runAt. Secret header values are encrypted before they are stored and are never returned.',
  })
  @ApiParam({ name: 'jobId', format: 'uuid' })
  @ApiCreatedResponse({ type: EndpointWriteAnswerDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'Invalid body; `fields` names each bad field',
  })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such job for this tenant' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The job is archived' })
  @ApiPayloadTooLargeResponse({ type: ErrorResponseDto })
  async create(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('jobId', JobIdPipe) jobId: string,
    @Body() body: CreateEndpointRequestDto,
  ) {
    const result = await this.commandBus.execute(
      new CreateEndpointCommand({ auth, correlationId }, jobId, body),
    );
    return created('endpoint', result.id, result.position);
  }
}
