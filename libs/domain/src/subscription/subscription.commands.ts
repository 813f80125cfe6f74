import { Command } from '../core/command';

/**
 * Subscribes a URL to the tenant's events (`POST /v1/subscriptions`). The adapter generates
 * `subscriptionId` and the secret when none was given, and passes the secret already
 * encrypted (a SecretBox token): the domain never sees it in clear.
 */
export type CreateWebhookSubscription = Command<
  'CreateWebhookSubscription',
  { tenantId: string; subscriptionId: string; url: string; eventTypes: string[]; secret: string }
>;

/** Stops a subscription. Deleting a deleted subscription does nothing. */
export type DeleteWebhookSubscription = Command<
  'DeleteWebhookSubscription',
  { tenantId: string; subscriptionId: string }
>;

export type SubscriptionCommand = CreateWebhookSubscription | DeleteWebhookSubscription;
