import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { endpointDecider, ArchiveEndpoint } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { ArchiveEndpointCommand } from './archive-endpoint.command';

@CommandHandler(ArchiveEndpointCommand)
export class ArchiveEndpointHandler implements ICommandHandler<ArchiveEndpointCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, endpointId }: ArchiveEndpointCommand): Promise<WriteResult> {
    const command: ArchiveEndpoint = {
      type: 'ArchiveEndpoint',
      data: { endpointId },
      metadata: { now: new Date() },
    };
    const { position } = await this.executor.execute({
      streamId: streamIds.endpoint(endpointId),
      decider: endpointDecider,
      command,
      ...origin,
    });
    return { id: endpointId, position };
  }
}
