import { randomUUID } from 'node:crypto';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { endpointDecider, RequestRun } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { TriggerEndpointCommand } from './trigger-endpoint.command';
import { liveJobGuard } from '../live-job.guard';

@CommandHandler(TriggerEndpointCommand)
export class TriggerEndpointHandler implements ICommandHandler<TriggerEndpointCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, endpointId }: TriggerEndpointCommand): Promise<WriteResult & { runId: string }> {
    const runId = randomUUID();
    const command: RequestRun = {
      type: 'RequestRun',
      data: { endpointId, runId, source: 'manual', trigger: null, retryOf: null },
      metadata: { now: new Date() },
    };
    const { position } = await this.executor.execute({
      streamId: streamIds.endpoint(endpointId),
      decider: endpointDecider,
      command,
      guard: liveJobGuard(this.executor, origin.auth),
      ...origin,
    });
    return { id: endpointId, runId, position };
  }
}
