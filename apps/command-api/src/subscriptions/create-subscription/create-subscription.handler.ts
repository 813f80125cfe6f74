import { randomBytes, randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CreateWebhookSubscription, subscriptionDecider } from '@cronicorn/domain';
import { streamIds, WebhookSubscriptionCreated } from '@cronicorn/events';
import type { SecretBox } from '@cronicorn/platform';
import { unavailable } from '../../common/api-error';
import { CommandExecutor } from '../../common/command-executor';
import { SUBSCRIPTION_SECRET_BOX } from '../secret-box.provider';
import { SubscriptionRepository } from '../subscription.repository';
import { CreateSubscriptionCommand, CreateSubscriptionResult } from './create-subscription.command';

/** `whsec_` + 32 random bytes, base64url. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

@CommandHandler(CreateSubscriptionCommand)
export class CreateSubscriptionHandler implements ICommandHandler<
  CreateSubscriptionCommand,
  CreateSubscriptionResult
> {
  constructor(
    private readonly executor: CommandExecutor,
    private readonly subscriptions: SubscriptionRepository,
    @Inject(SUBSCRIPTION_SECRET_BOX) private readonly secretBox: SecretBox | null,
  ) {}

  async execute(input: CreateSubscriptionCommand): Promise<CreateSubscriptionResult> {
    const { auth, correlationId } = input;
    if (!this.secretBox)
      throw unavailable('Subscriptions cannot be stored: SECRETS_KEY is not configured on the server');
    const secret = input.secret ?? generateSigningSecret();
    const subscriptionId = randomUUID();
    const command: CreateWebhookSubscription = {
      type: 'CreateWebhookSubscription',
      data: {
        tenantId: auth.tenantId,
        subscriptionId,
        url: input.url,
        eventTypes: input.eventTypes,
        secret: this.secretBox.encrypt(secret),
      },
      metadata: { now: new Date() },
    };
    const result = await this.executor.execute({
      streamId: streamIds.tenant(auth.tenantId),
      decider: subscriptionDecider,
      command,
      auth,
      correlationId,
      onAppended: async (client, appended) => {
        const envelope = appended.envelopes.find((e) => e.type === 'WebhookSubscriptionCreated');
        if (!envelope) return;
        const data = envelope.data as WebhookSubscriptionCreated['data'];
        await this.subscriptions.insert(client, {
          subscriptionId,
          tenantId: auth.tenantId,
          url: data.url,
          eventTypes: data.eventTypes,
          secret: data.secret,
          createdAt: data.createdAt,
          eventId: envelope.id,
        });
      },
    });
    const created = result.envelopes[0].data as WebhookSubscriptionCreated['data'];
    return {
      subscriptionId,
      url: created.url,
      eventTypes: created.eventTypes,
      secret,
      createdAt: created.createdAt,
      position: result.position as string,
    };
  }
}
