import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CreateEndpoint, endpointDecider, jobDecider } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import type { SecretBox } from '@cronicorn/platform';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { configFromCreate, withRestFieldsAsync } from '../endpoint-input.mapper';
import { encryptWith, SECRET_BOX } from '../secret-box.provider';
import { CreateEndpointCommand } from './create-endpoint.command';

@CommandHandler(CreateEndpointCommand)
export class CreateEndpointHandler implements ICommandHandler<CreateEndpointCommand> {
  constructor(
    private readonly executor: CommandExecutor,
    @Inject(SECRET_BOX) private readonly secrets: SecretBox | null,
  ) {}

  async execute({ origin, jobId, request }: CreateEndpointCommand): Promise<WriteResult> {
    const config = configFromCreate(request, encryptWith(this.secrets));
    // A missing or foreign job is a 404 here; an archived one is refused by the decider.
    const job = await this.executor.load(streamIds.job(jobId), jobDecider, origin.auth, 'JOB.NOT_FOUND');
    const endpointId = randomUUID();
    const command: CreateEndpoint = {
      type: 'CreateEndpoint',
      data: { endpointId, jobId, jobStatus: job.state.status, config },
      metadata: { now: new Date() },
    };
    const { position } = await withRestFieldsAsync(() =>
      this.executor.execute({
        streamId: streamIds.endpoint(endpointId),
        decider: endpointDecider,
        command,
        ...origin,
      }),
    );
    return { id: endpointId, position };
  }
}
