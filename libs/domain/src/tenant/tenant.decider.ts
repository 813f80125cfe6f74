import { ApiKeyIssued, ApiKeyRevoked, TenantCreated, TenantEvent, TriggerFired } from '@cronicorn/events';
import { Decider } from '../core/decider';
import { conflict, invalid, notFound } from '../core/errors';
import { failedChecks, textError } from '../core/validation';
import { TRIGGER_NAME_PATTERN } from '../endpoint/endpoint.config';
import { CreateTenant, FireTrigger, IssueApiKey, RevokeApiKey, TenantCommand } from './tenant.commands';
import { evolve, initialState, TenantState } from './tenant.state';

export const TENANT_LIMITS = { maxNameLength: 200, maxKeyNameLength: 100 } as const;

//////////////////////////////////////// Decide

export function createTenant({ data, metadata }: CreateTenant, state: TenantState): TenantCreated[] {
  if (state.status !== 'empty')
    throw conflict('TENANT.ALREADY_EXISTS', `Tenant ${data.tenantId} already exists`);
  assertValid('TENANT.INVALID', { name: textError(data.name, TENANT_LIMITS.maxNameLength, true) });
  const { tenantId, name } = data;
  return [{ type: 'TenantCreated', data: { tenantId, name, createdAt: metadata.now.toISOString() } }];
}

export function issueApiKey({ data, metadata }: IssueApiKey, state: TenantState): ApiKeyIssued[] {
  const tenant = existing(state, data.tenantId);
  const { keyId, name, keyHash, prefix } = data;
  const issued = tenant.keys.get(keyId);
  if (issued) {
    if (issued.keyHash === keyHash) return [];
    throw conflict('API_KEY.ALREADY_EXISTS', `API key ${keyId} already exists`);
  }
  assertValid('API_KEY.INVALID', {
    name: textError(name, TENANT_LIMITS.maxKeyNameLength, true),
    keyHash: textError(keyHash, 200, true),
    prefix: textError(prefix, 32, true),
  });
  return [
    { type: 'ApiKeyIssued', data: { keyId, name, keyHash, prefix, issuedAt: metadata.now.toISOString() } },
  ];
}

export function revokeApiKey({ data, metadata }: RevokeApiKey, state: TenantState): ApiKeyRevoked[] {
  const tenant = existing(state, data.tenantId);
  const key = tenant.keys.get(data.keyId);
  if (!key) throw notFound('API_KEY.NOT_FOUND', `API key ${data.keyId} not found`);
  if (key.revoked) return [];
  // Only a tenant key can issue keys (the admin key cannot): without one the tenant is locked
  // out for good. The append expects the version this state was read at, so two racing
  // revokes of the last two keys cannot both pass.
  const othersActive = [...tenant.keys.values()].some((other) => !other.revoked && other.keyId !== key.keyId);
  if (!othersActive)
    throw conflict(
      'API_KEY.LAST_KEY',
      `API key ${key.keyId} is the tenant's last active key; issue a new key first, then revoke this one`,
    );
  return [{ type: 'ApiKeyRevoked', data: { keyId: key.keyId, revokedAt: metadata.now.toISOString() } }];
}

export function fireTrigger({ data, metadata }: FireTrigger, state: TenantState): TriggerFired[] {
  existing(state, data.tenantId);
  assertValid('TRIGGER.INVALID', {
    name: TRIGGER_NAME_PATTERN.test(data.name)
      ? null
      : 'must be lower-case letters, digits, . _ - (at most 64)',
  });
  const { triggerId, name, payload, endpointIds, runs, skipped } = data;
  return [
    {
      type: 'TriggerFired',
      data: {
        triggerId,
        name,
        payload,
        endpointIds: [...endpointIds],
        ...(runs && { runs: runs.map((run) => ({ ...run })) }),
        ...(skipped && {
          skippedEndpointIds: skipped.map((skip) => skip.endpointId),
          skipped: skipped.map((skip) => ({ ...skip })),
        }),
        firedAt: metadata.now.toISOString(),
      },
    },
  ];
}

export function decide(command: TenantCommand, state: TenantState): TenantEvent[] {
  const { type } = command;
  switch (type) {
    case 'CreateTenant':
      return createTenant(command, state);
    case 'IssueApiKey':
      return issueApiKey(command, state);
    case 'RevokeApiKey':
      return revokeApiKey(command, state);
    case 'FireTrigger':
      return fireTrigger(command, state);
    default: {
      const _unknown: never = type;
      throw new Error(`Unknown tenant command ${String(_unknown)}`);
    }
  }
}

export const tenantDecider: Decider<TenantState, TenantCommand, TenantEvent> = {
  decide,
  evolve,
  initialState,
};

//////////////////////////////////////// Guards

function existing(state: TenantState, tenantId: string): Extract<TenantState, { status: 'active' }> {
  if (state.status === 'empty') throw notFound('TENANT.NOT_FOUND', `Tenant ${tenantId} not found`);
  return state;
}

function assertValid(code: string, checks: Record<string, string | null>): void {
  const fields = failedChecks(checks);
  if (Object.keys(fields).length > 0)
    throw invalid(code, `Invalid input: ${Object.keys(fields).join(', ')}`, fields);
}
