import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { DeleteWebhookSubscription, subscriptionDecider } from '@cronicorn/domain';
import { streamIds, WebhookSubscriptionDeleted } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import { SubscriptionRepository } from '../subscription.repository';
import { DeleteSubscriptionCommand, DeleteSubscriptionResult } from './delete-subscription.command';

@CommandHandler(DeleteSubscriptionCommand)
export class DeleteSubscriptionHandler implements ICommandHandler<
  DeleteSubscriptionCommand,
  DeleteSubscriptionResult
> {
  constructor(
    private readonly executor: CommandExecutor,
    private readonly subscriptions: SubscriptionRepository,
  ) {}

  async execute({
    subscriptionId,
    auth,
    correlationId,
  }: DeleteSubscriptionCommand): Promise<DeleteSubscriptionResult> {
    const command: DeleteWebhookSubscription = {
      type: 'DeleteWebhookSubscription',
      data: { tenantId: auth.tenantId, subscriptionId },
      metadata: { now: new Date() },
    };
    const result = await this.executor.execute({
      streamId: streamIds.tenant(auth.tenantId),
      decider: subscriptionDecider,
      command,
      auth,
      correlationId,
      onAppended: async (client, appended) => {
        const envelope = appended.envelopes.find((e) => e.type === 'WebhookSubscriptionDeleted');
        if (!envelope) return;
        const { deletedAt } = envelope.data as WebhookSubscriptionDeleted['data'];
        await this.subscriptions.markDeleted(client, auth.tenantId, subscriptionId, deletedAt);
      },
    });
    return { subscriptionId, position: result.position };
  }
}
