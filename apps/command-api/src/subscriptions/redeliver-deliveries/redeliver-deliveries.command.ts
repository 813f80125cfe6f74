import { Command } from '@nestjs/cqrs';
import type { TenantAuthContext } from '../../auth/auth-context';

export interface RedeliverDeliveriesResult {
  subscriptionId: string;
  position: string | null;
  /** Failed deliveries put back to pending. */
  redelivered: number;
}

export class RedeliverDeliveriesCommand extends Command<RedeliverDeliveriesResult> {
  constructor(
    readonly subscriptionId: string,
    readonly since: string | null,
    readonly auth: TenantAuthContext,
    readonly correlationId: string,
  ) {
    super();
  }
}
