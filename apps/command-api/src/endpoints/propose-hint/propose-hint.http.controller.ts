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
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { HintAnswerDto } from '../../resources/write-result';
import { ProposeHintCommand } from './propose-hint.command';
import { ProposeHintRequestDto } from './propose-hint.request.dto';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class ProposeHintHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/hints')
  @IdempotencyKeyHeader()
  @ApiOperation({
    summary: 'Steer the schedule with a hint',
    description:
      'The hints the AI planner uses (interval, one_shot, pause), validated and clamped to the endpoint bounds by the same rules, recorded as AIHintProposed with source api. A newer hint of a kind replaces the older one.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: HintAnswerDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'Refused hint: `fields` names the field (intervalMs, at, until, ttlMinutes, reason)',
  })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Archived' })
  async propose(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', EndpointIdPipe) endpointId: string,
    @Body() body: ProposeHintRequestDto,
  ) {
    const result = await this.commandBus.execute(
      new ProposeHintCommand({ auth, correlationId }, endpointId, body),
    );
    return accepted('endpoint', result.id, result.position, { hintId: result.hintId, hint: result.hint });
  }
}
