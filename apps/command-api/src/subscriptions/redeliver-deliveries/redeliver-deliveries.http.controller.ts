import { Body, Controller, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiParam,
  ApiProperty,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { CommandAnswerDto } from '../../common/command-answer.dto';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { accepted } from '../../common/responses';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { SubscriptionIdPipe } from '../subscription-id.pipe';
import { RedeliverDeliveriesCommand } from './redeliver-deliveries.command';
import { RedeliverDeliveriesRequestDto } from './redeliver-deliveries.request.dto';

class RedeliverAnswerDto extends CommandAnswerDto {
  @ApiProperty({ description: 'The subscription id' })
  subscriptionId!: string;

  @ApiProperty({ description: 'Failed deliveries put back to pending, due now', example: 42 })
  redelivered!: number;
}

@ApiTags('subscriptions')
@Controller('v1/subscriptions')
@TenantAuth()
export class RedeliverDeliveriesHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/redeliver')
  @IdempotencyKeyHeader()
  @ApiOperation({
    summary: 'Send a subscription\u2019s failed deliveries again',
    description:
      'For a receiver that was down longer than the retry schedule: its failed deliveries (optionally only those of ' +
      'events queued since an instant) are due again at once, each with the full schedule of attempts, and the ' +
      'subscription\u2019s circuit is closed. The request is recorded as `WebhookRedeliveryRequested` on the tenant stream.',
  })
  @ApiParam({ name: 'id', description: 'The subscription id' })
  @ApiAcceptedResponse({ type: RedeliverAnswerDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: '`since` is not an ISO 8601 instant' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such subscription in this tenant' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The subscription is deleted' })
  async redeliver(
    @Param('id', SubscriptionIdPipe) id: string,
    @Body() body: RedeliverDeliveriesRequestDto,
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
  ) {
    const result = await this.commandBus.execute(
      new RedeliverDeliveriesCommand(id, body.since ?? null, auth, correlationId),
    );
    return accepted('subscription', result.subscriptionId, result.position, {
      redelivered: result.redelivered,
    });
  }
}
