import { randomUUID } from 'node:crypto';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CreateJob, jobDecider } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { CreateJobCommand } from './create-job.command';

@CommandHandler(CreateJobCommand)
export class CreateJobHandler implements ICommandHandler<CreateJobCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, name, description }: CreateJobCommand): Promise<WriteResult> {
    const jobId = randomUUID();
    const command: CreateJob = {
      type: 'CreateJob',
      data: { jobId, name, description },
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
