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

/**
 * Sends the subscription's failed deliveries again, those created at or after `since` (an ISO
 * instant with an offset; null: every one still kept).
 */
export type RedeliverWebhookDeliveries = Command<
  'RedeliverWebhookDeliveries',
  { tenantId: string; subscriptionId: string; since: string | null }
>;

export type SubscriptionCommand =
  CreateWebhookSubscription | DeleteWebhookSubscription | RedeliverWebhookDeliveries;
