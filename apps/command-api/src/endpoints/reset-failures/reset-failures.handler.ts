import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { endpointDecider, ResetFailures } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { ResetFailuresCommand } from './reset-failures.command';
import { liveJobGuard } from '../live-job.guard';

@CommandHandler(ResetFailuresCommand)
export class ResetFailuresHandler implements ICommandHandler<ResetFailuresCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, endpointId }: ResetFailuresCommand): Promise<WriteResult> {
    const command: ResetFailures = {
      type: 'ResetFailures',
      data: { endpointId },
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
