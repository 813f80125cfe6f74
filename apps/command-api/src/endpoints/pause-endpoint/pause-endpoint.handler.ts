import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { endpointDecider, PauseEndpoint } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { PauseEndpointCommand } from './pause-endpoint.command';
import { liveJobGuard } from '../live-job.guard';

@CommandHandler(PauseEndpointCommand)
export class PauseEndpointHandler implements ICommandHandler<PauseEndpointCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, endpointId, until, reason }: PauseEndpointCommand): Promise<WriteResult> {
    const command: PauseEndpoint = {
      type: 'PauseEndpoint',
      data: { endpointId, until, reason },
      metadata: { now: new Date() },
    };
    const { position } = await this.executor.execute({
      streamId: streamIds.endpoint(endpointId),
      decider: endpointDecider,
      command,
      guard: liveJobGuard(this.executor, origin.auth),
      ...origin,
    });
    return { id: endpointId, position };
  }
}
