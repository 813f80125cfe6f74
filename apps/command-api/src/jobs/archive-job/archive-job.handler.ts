import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ArchiveJob, jobDecider } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { ArchiveJobCommand } from './archive-job.command';

@CommandHandler(ArchiveJobCommand)
export class ArchiveJobHandler implements ICommandHandler<ArchiveJobCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, jobId }: ArchiveJobCommand): Promise<WriteResult> {
    const command: ArchiveJob = { type: 'ArchiveJob', data: { jobId }, metadata: { now: new Date() } };
    const { position } = await this.executor.execute({
      streamId: streamIds.job(jobId),
      decider: jobDecider,
      command,
      ...origin,
    });
    return { id: jobId, position };
  }
}
