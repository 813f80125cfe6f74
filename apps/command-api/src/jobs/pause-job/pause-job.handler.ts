import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { jobDecider, PauseJob } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { PauseJobCommand } from './pause-job.command';

@CommandHandler(PauseJobCommand)
export class PauseJobHandler implements ICommandHandler<PauseJobCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, jobId, until, reason }: PauseJobCommand): Promise<WriteResult> {
    const command: PauseJob = {
      type: 'PauseJob',
      data: { jobId, until, reason },
      metadata: { now: new Date() },
    };
    const { position } = await this.executor.execute({
      streamId: streamIds.job(jobId),
      decider: jobDecider,
      command,
      ...origin,
    });
    return { id: jobId, position };
  }
}
