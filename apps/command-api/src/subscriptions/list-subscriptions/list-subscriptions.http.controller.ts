import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ReadsFrom } from '../../common/min-position.interceptor';
import { SubscriptionListResponseDto } from '../subscription.response.dto';
import { SubscriptionRepository } from '../subscription.repository';

@ApiTags('subscriptions')
@Controller('v1/subscriptions')
@TenantAuth()
export class ListSubscriptionsHttpController {
  constructor(private readonly subscriptions: SubscriptionRepository) {}

  /** Served from `webhook_subscriptions`, which commits with the events: no read-model lag. */
  @Get()
  @ReadsFrom('inline')
  @ApiOperation({ summary: 'List the tenant\u2019s webhook subscriptions (secrets are never shown)' })
  @ApiOkResponse({ type: SubscriptionListResponseDto })
  async list(@Auth() auth: TenantAuthContext): Promise<SubscriptionListResponseDto> {
    const rows = await this.subscriptions.listActive(auth.tenantId);
    return {
      subscriptions: rows.map(({ subscriptionId, tenantId: _tenantId, ...shown }) => ({
        id: subscriptionId,
        ...shown,
      })),
    };
  }
}
