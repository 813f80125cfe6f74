import { randomUUID } from 'node:crypto';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { IssueApiKey, tenantDecider } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { ApiKeyRepository, generateApiKey } from '../../auth/api-key.repository';
import { CommandExecutor } from '../../common/command-executor';
import { IssueApiKeyCommand, IssueApiKeyResult } from './issue-api-key.command';

@CommandHandler(IssueApiKeyCommand)
export class IssueApiKeyHandler implements ICommandHandler<IssueApiKeyCommand, IssueApiKeyResult> {
  constructor(
    private readonly executor: CommandExecutor,
    private readonly keys: ApiKeyRepository,
  ) {}

  async execute({ name, auth, correlationId }: IssueApiKeyCommand): Promise<IssueApiKeyResult> {
    const now = new Date();
    const keyId = randomUUID();
    const key = generateApiKey();
    const command: IssueApiKey = {
      type: 'IssueApiKey',
      data: { tenantId: auth.tenantId, keyId, name, keyHash: key.keyHash, prefix: key.prefix },
      metadata: { now },
    };
    const result = await this.executor.execute({
      streamId: streamIds.tenant(auth.tenantId),
      decider: tenantDecider,
      command,
      auth,
      correlationId,
      onAppended: (client) =>
        this.keys.insert(client, {
          keyHash: key.keyHash,
          keyId,
          tenantId: auth.tenantId,
          name,
          prefix: key.prefix,
          createdAt: now.toISOString(),
        }),
    });
    return { keyId, apiKey: key.apiKey, prefix: key.prefix, position: result.position as string };
  }
}
