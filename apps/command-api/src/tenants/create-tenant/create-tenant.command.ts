import { Command } from '@nestjs/cqrs';
import type { AuthContext } from '../../auth/auth-context';

export interface CreateTenantResult {
  tenantId: string;
  apiKey: string;
  keyId: string;
  position: string;
}

export class CreateTenantCommand extends Command<CreateTenantResult> {
  constructor(
    readonly name: string,
    readonly auth: AuthContext,
    readonly correlationId: string,
  ) {
    super();
  }
}
