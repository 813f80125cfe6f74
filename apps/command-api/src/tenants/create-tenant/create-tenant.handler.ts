import { randomUUID } from 'node:crypto';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CreateTenant, IssueApiKey, tenantDecider } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { ApiKeyRepository, generateApiKey } from '../../auth/api-key.repository';
import { CommandExecutor } from '../../common/command-executor';
import { CreateTenantCommand, CreateTenantResult } from './create-tenant.command';

export const FIRST_KEY_NAME = 'default';

/** Creates the tenant and its first API key in one append: a tenant never exists keyless. */
@CommandHandler(CreateTenantCommand)
export class CreateTenantHandler implements ICommandHandler<CreateTenantCommand, CreateTenantResult> {
  constructor(
    private readonly executor: CommandExecutor,
    private readonly keys: ApiKeyRepository,
  ) {}

  async execute({ name, auth, correlationId }: CreateTenantCommand): Promise<CreateTenantResult> {
    const now = new Date();
    const tenantId = randomUUID();
    const keyId = randomUUID();
    const key = generateApiKey();
    const create: CreateTenant = { type: 'CreateTenant', data: { tenantId, name }, metadata: { now } };
    const issue: IssueApiKey = {
      type: 'IssueApiKey',
      data: { tenantId, keyId, name: FIRST_KEY_NAME, keyHash: key.keyHash, prefix: key.prefix },
      metadata: { now },
    };
    const result = await this.executor.execute({
      streamId: streamIds.tenant(tenantId),
      decider: tenantDecider,
      command: [create, issue],
      auth,
      correlationId,
      tenantId,
      onAppended: (client) =>
        this.keys.insert(client, {
          keyHash: key.keyHash,
          keyId,
          tenantId,
          name: FIRST_KEY_NAME,
          prefix: key.prefix,
          createdAt: now.toISOString(),
        }),
    });
    return { tenantId, apiKey: key.apiKey, keyId, position: result.position as string };
  }
}
