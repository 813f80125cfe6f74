import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ClearHints, endpointDecider } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { ClearHintsCommand } from './clear-hints.command';
import { liveJobGuard } from '../live-job.guard';

@CommandHandler(ClearHintsCommand)
export class ClearHintsHandler implements ICommandHandler<ClearHintsCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, endpointId, reason }: ClearHintsCommand): Promise<WriteResult> {
    const command: ClearHints = {
      type: 'ClearHints',
      data: { endpointId, reason, source: 'api' },
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
