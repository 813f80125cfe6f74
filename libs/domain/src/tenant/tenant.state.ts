import { TenantEvent } from '@cronicorn/events';

//////////////////////////////////////// State

export interface ApiKeyState {
  keyId: string;
  name: string;
  keyHash: string;
  prefix: string;
  issuedAt: string;
  revoked: boolean;
}

export type TenantState =
  | { status: 'empty' }
  | {
      status: 'active';
      tenantId: string;
      name: string;
      createdAt: string;
      keys: ReadonlyMap<string, ApiKeyState>;
    };

export const initialState = (): TenantState => ({ status: 'empty' });

//////////////////////////////////////// Evolve

export function evolve(state: TenantState, event: TenantEvent): TenantState {
  switch (event.type) {
    case 'TenantCreated': {
      const { tenantId, name, createdAt } = event.data;
      return { status: 'active', tenantId, name, createdAt, keys: new Map() };
    }
    case 'ApiKeyIssued': {
      if (state.status !== 'active') return state;
      const { keyId, name, keyHash, prefix, issuedAt } = event.data;
      const keys = new Map(state.keys);
      keys.set(keyId, { keyId, name, keyHash, prefix, issuedAt, revoked: false });
      return { ...state, keys };
    }
    case 'ApiKeyRevoked': {
      const key = state.status === 'active' ? state.keys.get(event.data.keyId) : undefined;
      if (state.status !== 'active' || !key) return state;
      const keys = new Map(state.keys);
      keys.set(key.keyId, { ...key, revoked: true });
      return { ...state, keys };
    }
    case 'TriggerFired':
    case 'WebhookSubscriptionCreated':
    case 'WebhookSubscriptionDeleted':
    case 'WebhookRedeliveryRequested':
      return state;
    default: {
      const _unknown: never = event;
      return state;
    }
  }
}
