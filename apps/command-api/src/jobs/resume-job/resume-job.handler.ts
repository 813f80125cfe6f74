import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { jobDecider, ResumeJob } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { ResumeJobCommand } from './resume-job.command';

@CommandHandler(ResumeJobCommand)
export class ResumeJobHandler implements ICommandHandler<ResumeJobCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, jobId }: ResumeJobCommand): Promise<WriteResult> {
    const command: ResumeJob = { type: 'ResumeJob', data: { jobId }, metadata: { now: new Date() } };
    const { position } = await this.executor.execute({
      streamId: streamIds.job(jobId),
      decider: jobDecider,
      command,
      ...origin,
    });
    return { id: jobId, position };
  }
}
