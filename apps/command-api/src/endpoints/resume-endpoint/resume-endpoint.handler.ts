import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { endpointDecider, ResumeEndpoint } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { ResumeEndpointCommand } from './resume-endpoint.command';
import { liveJobGuard } from '../live-job.guard';

@CommandHandler(ResumeEndpointCommand)
export class ResumeEndpointHandler implements ICommandHandler<ResumeEndpointCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, endpointId }: ResumeEndpointCommand): Promise<WriteResult> {
    const command: ResumeEndpoint = {
      type: 'ResumeEndpoint',
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
