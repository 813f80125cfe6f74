import { TenantEvent } from '@cronicorn/events';

// The subscriptions decider folds the tenant stream (`tenant-<tenantId>`) but looks only at
// TenantCreated and the WebhookSubscription* events; the tenant decider ignores those.

//////////////////////////////////////// State

export interface WebhookSubscriptionState {
  subscriptionId: string;
  url: string;
  eventTypes: readonly string[];
  /** SecretBox token. */
  secret: string;
  createdAt: string;
  deletedAt: string | null;
}

export type SubscriptionsState =
  | { status: 'empty' }
  | { status: 'active'; tenantId: string; subscriptions: ReadonlyMap<string, WebhookSubscriptionState> };

export const initialState = (): SubscriptionsState => ({ status: 'empty' });

/** Subscriptions not deleted, in creation order. */
export function activeSubscriptions(state: SubscriptionsState): WebhookSubscriptionState[] {
  if (state.status !== 'active') return [];
  return [...state.subscriptions.values()].filter((s) => s.deletedAt === null);
}

//////////////////////////////////////// Evolve

export function evolve(state: SubscriptionsState, event: TenantEvent): SubscriptionsState {
  switch (event.type) {
    case 'TenantCreated':
      return { status: 'active', tenantId: event.data.tenantId, subscriptions: new Map() };
    case 'WebhookSubscriptionCreated': {
      if (state.status !== 'active') return state;
      const { subscriptionId, url, eventTypes, secret, createdAt } = event.data;
      const subscriptions = new Map(state.subscriptions);
      subscriptions.set(subscriptionId, {
        subscriptionId,
        url,
        eventTypes: [...eventTypes],
        secret,
        createdAt,
        deletedAt: null,
      });
      return { ...state, subscriptions };
    }
    case 'WebhookSubscriptionDeleted': {
      const existing =
        state.status === 'active' ? state.subscriptions.get(event.data.subscriptionId) : undefined;
      if (state.status !== 'active' || !existing) return state;
      const subscriptions = new Map(state.subscriptions);
      subscriptions.set(existing.subscriptionId, { ...existing, deletedAt: event.data.deletedAt });
      return { ...state, subscriptions };
    }
    default:
      return state;
  }
}
