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

/** Why a listening endpoint got no run when a trigger fired. */
export type TriggerSkipReason = 'endpoint_paused' | 'job_paused';

/**
 * A named trigger was fired (`POST /v1/triggers/:name`). `endpointIds` lists the listening
 * endpoints that were asked to run; each of them also gets a `RunRequested` (its run id in
 * `runs`). Listening endpoints that were paused get no run: `skippedEndpointIds`, with the
 * reason of each in `skipped`.
 */
export type TriggerFired = Event<
  'TriggerFired',
  {
    triggerId: string;
    name: string;
    payload: unknown;
    endpointIds: string[];
    runs?: { endpointId: string; runId: string }[];
    skippedEndpointIds?: string[];
    skipped?: { endpointId: string; reason: TriggerSkipReason }[];
    firedAt: string;
  }
>;

/**
 * The tenant subscribed a URL to its events (`POST /v1/subscriptions`). The dispatcher POSTs
 * every later event (in log order) whose type is in `eventTypes` (`*` = every type) to `url`,
 * signed with `secret`. `secret` is a SecretBox token (`enc:v1:…`), never the secret in clear;
 * the clear secret is shown once in the HTTP answer. Stable: all fields.
 */
export type WebhookSubscriptionCreated = Event<
  'WebhookSubscriptionCreated',
  { subscriptionId: string; url: string; eventTypes: string[]; secret: string; createdAt: string }
>;

/** The subscription stops receiving events; deliveries not yet made are cancelled. */
export type WebhookSubscriptionDeleted = Event<
  'WebhookSubscriptionDeleted',
  { subscriptionId: string; deletedAt: string }
>;

/**
 * The tenant asked for the subscription's failed deliveries to be sent again
 * (`POST /v1/subscriptions/:id/redeliver`): those created at or after `since` (every one kept
 * when null) start a new schedule of attempts, and the subscription's circuit is closed.
 */
export type WebhookRedeliveryRequested = Event<
  'WebhookRedeliveryRequested',
  { subscriptionId: string; since: string | null; requestedAt: string }
>;

export type TenantEvent =
  | TenantCreated
  | ApiKeyIssued
  | ApiKeyRevoked
  | TriggerFired
  | WebhookSubscriptionCreated
  | WebhookSubscriptionDeleted
  | WebhookRedeliveryRequested;
export const TenantEventTypes = [
  'TenantCreated',
  'ApiKeyIssued',
  'ApiKeyRevoked',
  'TriggerFired',
  'WebhookSubscriptionCreated',
  'WebhookSubscriptionDeleted',
  'WebhookRedeliveryRequested',
] as const;
