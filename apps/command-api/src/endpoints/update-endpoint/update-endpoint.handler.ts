import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { endpointDecider, UpdateEndpoint } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import type { SecretBox } from '@cronicorn/platform';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { changesFromUpdate, restFieldsOf, withRestFieldsAsync } from '../endpoint-input.mapper';
import { encryptWith, SECRET_BOX } from '../secret-box.provider';
import { UpdateEndpointCommand } from './update-endpoint.command';
import { liveJobGuard } from '../live-job.guard';

@CommandHandler(UpdateEndpointCommand)
export class UpdateEndpointHandler implements ICommandHandler<UpdateEndpointCommand> {
  constructor(
    private readonly executor: CommandExecutor,
    @Inject(SECRET_BOX) private readonly secrets: SecretBox | null,
  ) {}

  async execute({ origin, endpointId, request }: UpdateEndpointCommand): Promise<WriteResult> {
    const changes = changesFromUpdate(request, encryptWith(this.secrets));
    // The decider merges the changes into the configuration it folds on every attempt, so two
    // PATCHes of different fields both land: a conflict makes the executor decide again.
    const command: UpdateEndpoint = {
      type: 'UpdateEndpoint',
      data: { endpointId, changes },
      metadata: { now: new Date() },
    };
    const { position } = await withRestFieldsAsync(
      () =>
        this.executor.execute({
          streamId: streamIds.endpoint(endpointId),
          decider: endpointDecider,
          command,
          guard: liveJobGuard(this.executor, origin.auth),
          ...origin,
        }),
      restFieldsOf(request),
    );
    return { id: endpointId, position };
  }
}
