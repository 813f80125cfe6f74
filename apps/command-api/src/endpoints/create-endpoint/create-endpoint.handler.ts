import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CreateEndpoint, endpointDecider, jobDecider } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { PG_POOL } from '@cronicorn/platform';
import type { SecretBox } from '@cronicorn/platform';
import type { Pool } from 'pg';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { configFromCreate, restFieldsOf, withRestFieldsAsync } from '../endpoint-input.mapper';
import { encryptWith, SECRET_BOX } from '../secret-box.provider';
import { CreateEndpointCommand } from './create-endpoint.command';
import { DuplicateEndpointError, findDuplicateEndpoint } from './duplicate-endpoint';

@CommandHandler(CreateEndpointCommand)
export class CreateEndpointHandler implements ICommandHandler<CreateEndpointCommand> {
  constructor(
    private readonly executor: CommandExecutor,
    @Inject(SECRET_BOX) private readonly secrets: SecretBox | null,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  async execute({ origin, jobId, request }: CreateEndpointCommand): Promise<WriteResult> {
    const config = configFromCreate(request, encryptWith(this.secrets));
    // A missing or foreign job is a 404 here; an archived one is refused by the decider.
    const job = await this.executor.load(streamIds.job(jobId), jobDecider, origin.auth, 'JOB.NOT_FOUND');
    const now = new Date();
    if (request.allowDuplicate !== true && job.state.status !== 'archived') {
      const existingId = await findDuplicateEndpoint(this.pool, origin.auth.tenantId, jobId, config, now);
      if (existingId !== null) throw new DuplicateEndpointError(existingId);
    }
    const endpointId = randomUUID();
    const command: CreateEndpoint = {
      type: 'CreateEndpoint',
      data: { endpointId, jobId, jobStatus: job.state.status, config },
      metadata: { now },
    };
    const { position } = await withRestFieldsAsync(
      () =>
        this.executor.execute({
          streamId: streamIds.endpoint(endpointId),
          decider: endpointDecider,
          command,
          ...origin,
        }),
      restFieldsOf(request),
    );
    return { id: endpointId, position };
  }
}
