import { Controller, Get, Param, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { notFound } from '@cronicorn/domain';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { ReadsFrom } from '../../common/min-position.interceptor';
import { SubscriptionIdPipe } from '../subscription-id.pipe';
import { SubscriptionRepository } from '../subscription.repository';
import { DeliveryListResponseDto } from './delivery.response.dto';
import { DEFAULT_DELIVERIES_PAGE, ListDeliveriesQueryDto } from './list-deliveries.request.dto';

@ApiTags('subscriptions')
@Controller('v1/subscriptions')
@TenantAuth()
export class ListDeliveriesHttpController {
  constructor(private readonly subscriptions: SubscriptionRepository) {}

  @Get(':id/deliveries')
  @ReadsFrom('inline')
  @ApiOperation({
    summary: 'The delivery log of a subscription',
    description:
      'Every attempt (status code, error, next attempt), newest first, plus deliveries not tried yet.',
  })
  @ApiParam({ name: 'id', description: 'The subscription id' })
  @ApiOkResponse({ type: DeliveryListResponseDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such subscription in this tenant' })
  async list(
    @Param('id', SubscriptionIdPipe) id: string,
    @Query() query: ListDeliveriesQueryDto,
    @Auth() auth: TenantAuthContext,
  ): Promise<DeliveryListResponseDto> {
    const subscription = await this.subscriptions.find(auth.tenantId, id);
    if (!subscription) throw notFound('SUBSCRIPTION.NOT_FOUND', 'Subscription not found');
    const deliveries = await this.subscriptions.deliveryLog(id, query.limit ?? DEFAULT_DELIVERIES_PAGE);
    return { deliveries };
  }
}
