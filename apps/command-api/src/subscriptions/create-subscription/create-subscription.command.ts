import { Command } from '@nestjs/cqrs';
import type { TenantAuthContext } from '../../auth/auth-context';

export interface CreateSubscriptionResult {
  subscriptionId: string;
  url: string;
  eventTypes: string[];
  /** The secret in clear: returned once, never stored in clear. */
  secret: string;
  createdAt: string;
  position: string;
}

export class CreateSubscriptionCommand extends Command<CreateSubscriptionResult> {
  constructor(
    readonly url: string,
    readonly eventTypes: string[],
    readonly secret: string | undefined,
    readonly auth: TenantAuthContext,
    readonly correlationId: string,
  ) {
    super();
  }
}
