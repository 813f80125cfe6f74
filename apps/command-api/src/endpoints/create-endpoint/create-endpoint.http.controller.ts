import { Body, Controller, Param, Post, UseFilters } from '@nestjs/common';
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
import { DuplicateEndpointFilter, DuplicateEndpointResponseDto } from './duplicate-endpoint';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/jobs')
export class CreateEndpointHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':jobId/endpoints')
  @UseFilters(DuplicateEndpointFilter)
  @ApiOperation({
    summary: 'Register an endpoint in a job',
    description:
      'An HTTP request and its schedule: exactly one of cron (+ timezone), intervalMs, runAt, or a preset `schedule: {every, at, on?, timezone}` (stored as the equivalent cron). ' +
      'Secret header values are encrypted before they are stored and are never returned. ' +
      'An active endpoint of the job with the same method, URL, body and schedule makes this a 409 ENDPOINT.DUPLICATE naming it, unless allowDuplicate is true.',
  })
  @ApiParam({ name: 'jobId', format: 'uuid' })
  @ApiCreatedResponse({ type: EndpointWriteAnswerDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'Invalid body; `fields` names each bad field',
  })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such job for this tenant' })
  @ApiConflictResponse({
    type: DuplicateEndpointResponseDto,
    description:
      'ENDPOINT.DUPLICATE with `existingId`: an identical active endpoint exists; or JOB.ARCHIVED (no existingId); or an Idempotency-Key still in progress',
  })
  @ApiPayloadTooLargeResponse({ type: ErrorResponseDto })
  // Lowest, so the route's own 409 description above replaces its generic one.
  @IdempotencyKeyHeader()
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
