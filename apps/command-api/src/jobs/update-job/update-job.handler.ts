import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { jobDecider, UpdateJob } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { UpdateJobCommand } from './update-job.command';

@CommandHandler(UpdateJobCommand)
export class UpdateJobHandler implements ICommandHandler<UpdateJobCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, jobId, changes }: UpdateJobCommand): Promise<WriteResult> {
    const command: UpdateJob = {
      type: 'UpdateJob',
      data: { jobId, ...changes },
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
