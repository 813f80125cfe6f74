import { Body, Controller, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { created } from '../../common/responses';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { CreateSubscriptionCommand } from './create-subscription.command';
import { CreateSubscriptionRequestDto } from './create-subscription.request.dto';
import { CreateSubscriptionResponseDto } from './create-subscription.response.dto';

@ApiTags('subscriptions')
@Controller('v1/subscriptions')
@TenantAuth()
export class CreateSubscriptionHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post()
  @ApiOperation({
    summary: 'Subscribe a URL to the tenant\u2019s events (outbound webhooks)',
    description:
      'Every later event of the listed types is POSTed to `url` as the event envelope (JSON), signed ' +
      'with the secret, at least once, retried with backoff. Receivers deduplicate by `cronicorn-event-id`.',
  })
  @IdempotencyKeyHeader()
  @ApiCreatedResponse({
    type: CreateSubscriptionResponseDto,
    description: 'The secret is shown only in this answer',
  })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Bad URL or unknown event type' })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description: 'Too many subscriptions (SUBSCRIPTION.LIMIT_REACHED)',
  })
  async create(
    @Body() body: CreateSubscriptionRequestDto,
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
  ) {
    const result = await this.commandBus.execute(
      new CreateSubscriptionCommand(body.url, body.eventTypes, body.secret, auth, correlationId),
    );
    return created('subscription', result.subscriptionId, result.position, {
      url: result.url,
      eventTypes: result.eventTypes,
      secret: result.secret,
      createdAt: result.createdAt,
    });
  }
}
