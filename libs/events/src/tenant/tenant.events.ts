import { Event } from '../envelope';

// Stream `tenant-<tenantId>`, written by command-api.

/** A tenant was registered by an admin. */
export type TenantCreated = Event<'TenantCreated', { tenantId: string; name: string; createdAt: string }>;

/**
 * An API key was issued to the tenant. Only the SHA-256 hash and a short display prefix are
 * recorded; the key itself is shown once in the HTTP answer and never stored.
 */
export type ApiKeyIssued = Event<
  'ApiKeyIssued',
  { keyId: string; name: string; keyHash: string; prefix: string; issuedAt: string }
>;

/** The key stops authenticating from this event on. */
export type ApiKeyRevoked = Event<'ApiKeyRevoked', { keyId: string; revokedAt: string }>;

/**
 * A named trigger was fired (`POST /v1/triggers/:name`). `endpointIds` lists the listening
 * endpoints that were asked to run; each of them also gets a `RunRequested`.
 */
export type TriggerFired = Event<
  'TriggerFired',
  { triggerId: string; name: string; payload: unknown; endpointIds: string[]; firedAt: string }
>;

export type TenantEvent = TenantCreated | ApiKeyIssued | ApiKeyRevoked | TriggerFired;
export const TenantEventTypes = ['TenantCreated', 'ApiKeyIssued', 'ApiKeyRevoked', 'TriggerFired'] as const;
