import { Command } from '@nestjs/cqrs';
import type { TenantAuthContext } from '../../auth/auth-context';

export interface IssueApiKeyResult {
  keyId: string;
  apiKey: string;
  prefix: string;
  position: string;
}

export class IssueApiKeyCommand extends Command<IssueApiKeyResult> {
  constructor(
    readonly name: string,
    readonly auth: TenantAuthContext,
    readonly correlationId: string,
  ) {
    super();
  }
}
