import type { TriggerSkipReason } from '@cronicorn/events';
import { Command } from '../core/command';

/** Registers a tenant (`POST /v1/tenants`, admin only). `tenantId` is new. */
export type CreateTenant = Command<'CreateTenant', { tenantId: string; name: string }>;

/**
 * Records a new API key. The adapter generates the key, shows it once, and passes only its
 * SHA-256 hash and a short display prefix.
 */
export type IssueApiKey = Command<
  'IssueApiKey',
  { tenantId: string; keyId: string; name: string; keyHash: string; prefix: string }
>;

/**
 * Stops a key from authenticating. Revoking a revoked key does nothing; the tenant's last
 * active key cannot be revoked (409 `API_KEY.LAST_KEY`: issue a new key first).
 */
export type RevokeApiKey = Command<'RevokeApiKey', { tenantId: string; keyId: string }>;

/**
 * Records that a named trigger fired. `endpointIds` are the listening endpoints the adapter
 * found; each of them gets its own `RequestRun` (source `trigger`) on its own stream, whose
 * run id `runs` records. `skipped` are listening endpoints that were paused and got no run.
 */
export type FireTrigger = Command<
  'FireTrigger',
  {
    tenantId: string;
    triggerId: string;
    name: string;
    payload: unknown;
    endpointIds: string[];
    runs?: { endpointId: string; runId: string }[];
    skipped?: { endpointId: string; reason: TriggerSkipReason }[];
  }
>;

export type TenantCommand = CreateTenant | IssueApiKey | RevokeApiKey | FireTrigger;
