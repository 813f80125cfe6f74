import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { RevokeApiKey, tenantDecider } from '@cronicorn/domain';
import { ApiKeyRevoked, streamIds } from '@cronicorn/events';
import { ApiKeyRepository } from '../../auth/api-key.repository';
import { CommandExecutor } from '../../common/command-executor';
import { RevokeApiKeyCommand, RevokeApiKeyResult } from './revoke-api-key.command';

@CommandHandler(RevokeApiKeyCommand)
export class RevokeApiKeyHandler implements ICommandHandler<RevokeApiKeyCommand, RevokeApiKeyResult> {
  constructor(
    private readonly executor: CommandExecutor,
    private readonly keys: ApiKeyRepository,
  ) {}

  async execute({ keyId, auth, correlationId }: RevokeApiKeyCommand): Promise<RevokeApiKeyResult> {
    const command: RevokeApiKey = {
      type: 'RevokeApiKey',
      data: { tenantId: auth.tenantId, keyId },
      metadata: { now: new Date() },
    };
    const result = await this.executor.execute({
      streamId: streamIds.tenant(auth.tenantId),
      decider: tenantDecider,
      command,
      auth,
      correlationId,
      onAppended: async (client, appended) => {
        const revoked = appended.envelopes.find((e) => e.type === 'ApiKeyRevoked');
        const { revokedAt } = (revoked?.data ?? {}) as Partial<ApiKeyRevoked['data']>;
        await this.keys.revoke(client, auth.tenantId, keyId, revokedAt ?? new Date().toISOString());
      },
    });
    return { keyId, position: result.position };
  }
}
