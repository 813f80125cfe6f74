import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { RedeliverWebhookDeliveries, subscriptionDecider } from '@cronicorn/domain';
import { streamIds, WebhookRedeliveryRequested } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import { SubscriptionRepository } from '../subscription.repository';
import { RedeliverDeliveriesCommand, RedeliverDeliveriesResult } from './redeliver-deliveries.command';

@CommandHandler(RedeliverDeliveriesCommand)
export class RedeliverDeliveriesHandler implements ICommandHandler<
  RedeliverDeliveriesCommand,
  RedeliverDeliveriesResult
> {
  constructor(
    private readonly executor: CommandExecutor,
    private readonly subscriptions: SubscriptionRepository,
  ) {}

  async execute({
    subscriptionId,
    since,
    auth,
    correlationId,
  }: RedeliverDeliveriesCommand): Promise<RedeliverDeliveriesResult> {
    const command: RedeliverWebhookDeliveries = {
      type: 'RedeliverWebhookDeliveries',
      data: { tenantId: auth.tenantId, subscriptionId, since },
      metadata: { now: new Date() },
    };
    let redelivered = 0;
    const result = await this.executor.execute({
      streamId: streamIds.tenant(auth.tenantId),
      decider: subscriptionDecider,
      command,
      auth,
      correlationId,
      // In the event's transaction: the request is in the audit log if and only if it took effect.
      onAppended: async (client, appended) => {
        const envelope = appended.envelopes.find((e) => e.type === 'WebhookRedeliveryRequested');
        if (!envelope) return;
        const data = envelope.data as WebhookRedeliveryRequested['data'];
        redelivered = await this.subscriptions.redeliverFailed(
          client,
          auth.tenantId,
          subscriptionId,
          data.since,
        );
      },
    });
    return { subscriptionId, position: result.position, redelivered };
  }
}
