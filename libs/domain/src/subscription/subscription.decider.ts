import {
  isCronicornEventType,
  TenantEvent,
  WebhookRedeliveryRequested,
  WebhookSubscriptionCreated,
  WebhookSubscriptionDeleted,
} from '@cronicorn/events';
import { Decider } from '../core/decider';
import { conflict, invalid, notFound } from '../core/errors';
import { failedChecks, instant, textError, urlUserInfoError } from '../core/validation';
import {
  CreateWebhookSubscription,
  DeleteWebhookSubscription,
  RedeliverWebhookDeliveries,
  SubscriptionCommand,
} from './subscription.commands';
import { activeSubscriptions, evolve, initialState, SubscriptionsState } from './subscription.state';

export const SUBSCRIPTION_LIMITS = {
  maxUrlLength: 2_048,
  maxEventTypes: 50,
  /** Subscriptions not deleted, per tenant. */
  maxActive: 25,
  maxSecretLength: 1_024,
} as const;

/** Matches every event type in `eventTypes`. */
export const ALL_EVENT_TYPES_WILDCARD = '*';

//////////////////////////////////////// Decide

export function createSubscription(
  { data, metadata }: CreateWebhookSubscription,
  state: SubscriptionsState,
): WebhookSubscriptionCreated[] {
  const tenant = existing(state, data.tenantId);
  const { subscriptionId, url, secret } = data;
  const eventTypes = [...new Set(data.eventTypes)];
  const previous = tenant.subscriptions.get(subscriptionId);
  if (previous) {
    const same =
      previous.url === url &&
      previous.secret === secret &&
      previous.eventTypes.join(',') === eventTypes.join(',');
    if (same) return [];
    throw conflict('SUBSCRIPTION.ALREADY_EXISTS', `Subscription ${subscriptionId} already exists`);
  }
  assertValid({
    url: urlError(url),
    eventTypes: eventTypesError(eventTypes),
    secret: textError(secret, SUBSCRIPTION_LIMITS.maxSecretLength, true),
  });
  if (activeSubscriptions(state).length >= SUBSCRIPTION_LIMITS.maxActive) {
    throw conflict(
      'SUBSCRIPTION.LIMIT_REACHED',
      `A tenant may have at most ${SUBSCRIPTION_LIMITS.maxActive} subscriptions`,
    );
  }
  return [
    {
      type: 'WebhookSubscriptionCreated',
      data: { subscriptionId, url, eventTypes, secret, createdAt: metadata.now.toISOString() },
    },
  ];
}

export function deleteSubscription(
  { data, metadata }: DeleteWebhookSubscription,
  state: SubscriptionsState,
): WebhookSubscriptionDeleted[] {
  const tenant = existing(state, data.tenantId);
  const subscription = tenant.subscriptions.get(data.subscriptionId);
  if (!subscription)
    throw notFound('SUBSCRIPTION.NOT_FOUND', `Subscription ${data.subscriptionId} not found`);
  if (subscription.deletedAt !== null) return [];
  return [
    {
      type: 'WebhookSubscriptionDeleted',
      data: { subscriptionId: subscription.subscriptionId, deletedAt: metadata.now.toISOString() },
    },
  ];
}

export function redeliver(
  { data, metadata }: RedeliverWebhookDeliveries,
  state: SubscriptionsState,
): WebhookRedeliveryRequested[] {
  const tenant = existing(state, data.tenantId);
  const subscription = tenant.subscriptions.get(data.subscriptionId);
  if (!subscription)
    throw notFound('SUBSCRIPTION.NOT_FOUND', `Subscription ${data.subscriptionId} not found`);
  if (subscription.deletedAt !== null)
    throw conflict('SUBSCRIPTION.DELETED', `Subscription ${data.subscriptionId} is deleted`);
  const since = instant(data.since);
  if (since === undefined) assertValid({ since: 'must be an ISO 8601 instant with an offset' });
  return [
    {
      type: 'WebhookRedeliveryRequested',
      data: {
        subscriptionId: subscription.subscriptionId,
        since: since ? since.toISOString() : null,
        requestedAt: metadata.now.toISOString(),
      },
    },
  ];
}

export function decide(command: SubscriptionCommand, state: SubscriptionsState): TenantEvent[] {
  const { type } = command;
  switch (type) {
    case 'CreateWebhookSubscription':
      return createSubscription(command, state);
    case 'DeleteWebhookSubscription':
      return deleteSubscription(command, state);
    case 'RedeliverWebhookDeliveries':
      return redeliver(command, state);
    default: {
      const _unknown: never = type;
      throw new Error(`Unknown subscription command ${String(_unknown)}`);
    }
  }
}

/** Decides over the tenant stream; folds only TenantCreated and WebhookSubscription* events. */
export const subscriptionDecider: Decider<SubscriptionsState, SubscriptionCommand, TenantEvent> = {
  decide,
  evolve,
  initialState,
};

/** Whether a subscription listening to `eventTypes` wants an event of `type`. */
export function subscriptionMatches(eventTypes: readonly string[], type: string): boolean {
  return eventTypes.includes(ALL_EVENT_TYPES_WILDCARD) || eventTypes.includes(type);
}

//////////////////////////////////////// Checks

function urlError(url: string): string | null {
  const text = textError(url, SUBSCRIPTION_LIMITS.maxUrlLength, true);
  if (text) return text;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http or https URL';
  return urlUserInfoError(
    parsed,
    'receivers authenticate deliveries by their signature (made with the subscription secret)',
  );
}

function eventTypesError(eventTypes: readonly string[]): string | null {
  if (eventTypes.length === 0) return 'must name at least one event type (or "*")';
  if (eventTypes.length > SUBSCRIPTION_LIMITS.maxEventTypes)
    return `must name at most ${SUBSCRIPTION_LIMITS.maxEventTypes} event types`;
  const unknown = eventTypes.filter((t) => t !== ALL_EVENT_TYPES_WILDCARD && !isCronicornEventType(t));
  return unknown.length ? `unknown event type(s): ${unknown.join(', ')}` : null;
}

//////////////////////////////////////// Guards

function existing(
  state: SubscriptionsState,
  tenantId: string,
): Extract<SubscriptionsState, { status: 'active' }> {
  if (state.status === 'empty') throw notFound('TENANT.NOT_FOUND', `Tenant ${tenantId} not found`);
  return state;
}

function assertValid(checks: Record<string, string | null>): void {
  const fields = failedChecks(checks);
  if (Object.keys(fields).length > 0)
    throw invalid('SUBSCRIPTION.INVALID', `Invalid input: ${Object.keys(fields).join(', ')}`, fields);
}
