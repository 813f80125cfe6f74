import { Command } from '@nestjs/cqrs';
import type { TenantAuthContext } from '../../auth/auth-context';

export interface DeleteSubscriptionResult {
  subscriptionId: string;
  /** Null when the subscription was already deleted. */
  position: string | null;
}

export class DeleteSubscriptionCommand extends Command<DeleteSubscriptionResult> {
  constructor(
    readonly subscriptionId: string,
    readonly auth: TenantAuthContext,
    readonly correlationId: string,
  ) {
    super();
  }
}
