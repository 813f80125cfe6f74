import { randomUUID } from 'node:crypto';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { endpointDecider, ProposeHint } from '@cronicorn/domain';
import { AIHintProposed, streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import type { WriteResult } from '../../resources/write-result';
import { hintFieldsForRest, hintFromBody, withRestFieldsAsync } from '../endpoint-input.mapper';
import { ProposeHintCommand, RecordedHint } from './propose-hint.command';
import { liveJobGuard } from '../live-job.guard';

@CommandHandler(ProposeHintCommand)
export class ProposeHintHandler implements ICommandHandler<ProposeHintCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({
    origin,
    endpointId,
    request,
  }: ProposeHintCommand): Promise<WriteResult & { hintId: string; hint: RecordedHint | null }> {
    const proposal = hintFromBody(request);
    const hintId = randomUUID();
    const command: ProposeHint = {
      type: 'ProposeHint',
      data: { ...proposal, endpointId, hintId, model: null },
      metadata: { now: new Date() },
    };
    const { position, envelopes } = await withRestFieldsAsync(
      () =>
        this.executor.execute({
          streamId: streamIds.endpoint(endpointId),
          decider: endpointDecider,
          command,
          guard: liveJobGuard(this.executor, origin.auth),
          ...origin,
        }),
      hintFieldsForRest(request.kind),
    );
    const recorded = envelopes.find((e) => e.type === 'AIHintProposed')?.data as
      AIHintProposed['data'] | undefined;
    const hint = recorded
      ? {
          kind: recorded.kind,
          value: recorded.value,
          requested: recorded.requested,
          expiresAt: recorded.expiresAt,
        }
      : null;
    return { id: endpointId, hintId, hint, position };
  }
}
