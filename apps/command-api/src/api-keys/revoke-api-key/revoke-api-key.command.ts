import { Command } from '@nestjs/cqrs';
import type { TenantAuthContext } from '../../auth/auth-context';

export interface RevokeApiKeyResult {
  keyId: string;
  /** Null when the key was already revoked. */
  position: string | null;
}

export class RevokeApiKeyCommand extends Command<RevokeApiKeyResult> {
  constructor(
    readonly keyId: string,
    readonly auth: TenantAuthContext,
    readonly correlationId: string,
  ) {
    super();
  }
}
