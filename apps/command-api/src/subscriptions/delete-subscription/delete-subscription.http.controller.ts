import { Controller, Delete, Param } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiAcceptedResponse, ApiNotFoundResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { CommandAnswerDto } from '../../common/command-answer.dto';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { accepted } from '../../common/responses';
import { SubscriptionIdPipe } from '../subscription-id.pipe';
import { DeleteSubscriptionCommand } from './delete-subscription.command';

@ApiTags('subscriptions')
@Controller('v1/subscriptions')
@TenantAuth()
export class DeleteSubscriptionHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Delete(':id')
  @ApiOperation({
    summary: 'Delete a webhook subscription',
    description:
      'No further events are delivered; deliveries not made yet are cancelled. Its delivery log stays readable.',
  })
  @ApiParam({ name: 'id', description: 'The subscription id' })
  @ApiAcceptedResponse({
    type: CommandAnswerDto,
    description: '`subscriptionId` is set; position null if it was already deleted',
  })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such subscription in this tenant' })
  async delete(
    @Param('id', SubscriptionIdPipe) id: string,
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
  ) {
    const result = await this.commandBus.execute(new DeleteSubscriptionCommand(id, auth, correlationId));
    return accepted('subscription', result.subscriptionId, result.position);
  }
}
