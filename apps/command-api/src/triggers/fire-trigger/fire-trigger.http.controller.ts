import { Body, Controller, Headers, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiHeader,
  ApiConflictResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { TRIGGER_NAME_PATTERN } from '@cronicorn/domain';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { badInput } from '../../common/api-error';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { isEventPosition, isLogStart, NOT_A_POSITION } from '../../common/event-position';
import { LAGGING_HEADER, MIN_POSITION_HEADER } from '../../common/min-position.interceptor';
import { accepted, CommandAnswer } from '../../common/responses';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { FireTriggerCommand } from './fire-trigger.command';
import { FireTriggerRequestDto } from './fire-trigger.request.dto';
import { FireTriggerAnswerDto } from './fire-trigger.response.dto';
import { MAX_TRIGGER_LISTENERS } from './fire-trigger.handler';

@ApiTags('triggers')
@TenantAuth()
@Controller('v1/triggers')
export class FireTriggerHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':name')
  @ApiOperation({
    summary: 'Fire a named trigger',
    description:
      'Requests one run (RunRequested, source trigger) of every active endpoint of the tenant whose `triggers` list this name, ' +
      'and records TriggerFired on the tenant stream with the endpoints it started and the paused ones it skipped, all in one transaction. ' +
      'The payload is available to request body templates as {{trigger.payload.<path>}}; {{previousRun.response.json.<path>}} reads the ' +
      "endpoint's latest finished run. Listeners are found through the endpoints read model: to fire right after adding a " +
      `listener, send that write's position as \`x-min-position\`. At most ${MAX_TRIGGER_LISTENERS} listeners per name.`,
  })
  @ApiHeader({
    name: MIN_POSITION_HEADER,
    required: false,
    description:
      'Look for listeners only once the read models include this event position (bounded wait; `x-read-model-lagging: true` if not)',
  })
  @ApiParam({
    name: 'name',
    description: 'Trigger name: lower-case letters, digits, . _ -',
    example: 'invoice.created',
  })
  @ApiAcceptedResponse({ type: FireTriggerAnswerDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Bad name (`fields.name`) or payload' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Too many listeners, or a concurrent change' })
  // Lowest, so the route's own 409 description above replaces its generic one.
  @IdempotencyKeyHeader()
  async fire(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('name') name: string,
    @Body() body: FireTriggerRequestDto,
    @Headers(MIN_POSITION_HEADER) minPosition?: string,
  ) {
    if (!TRIGGER_NAME_PATTERN.test(name)) {
      throw badInput({
        name: 'must be a trigger name: lower-case letters, digits, ".", "_" or "-" (at most 64)',
      });
    }
    if (minPosition !== undefined && !isEventPosition(minPosition)) {
      throw badInput({ [MIN_POSITION_HEADER]: NOT_A_POSITION });
    }
    // Position 0 is before every event: nothing to wait for.
    const waitFor = minPosition === undefined || isLogStart(minPosition) ? null : minPosition;
    const result = await this.commandBus.execute(
      new FireTriggerCommand({ auth, correlationId }, name, body.payload ?? null, waitFor),
    );
    const answer = accepted('trigger', result.triggerId, result.position, {
      runs: result.runs,
      skipped: result.skipped,
    });
    if (!result.lagging) return answer;
    return new CommandAnswer(answer.status, answer.body, { ...answer.headers, [LAGGING_HEADER]: 'true' });
  }
}
