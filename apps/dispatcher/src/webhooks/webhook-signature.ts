import { createHmac, timingSafeEqual } from 'node:crypto';

/** Request headers of every webhook delivery (lower case, as Node receives them). */
export const WEBHOOK_HEADERS = {
  eventId: 'cronicorn-event-id',
  eventType: 'cronicorn-event-type',
  timestamp: 'cronicorn-timestamp',
  signature: 'cronicorn-signature',
} as const;

/**
 * `v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. The timestamp (unix seconds) is
 * signed with the body so a captured request cannot be replayed later with a new timestamp.
 */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** The headers of one delivery attempt (the body is the envelope JSON, sent byte for byte). */
export function webhookHeaders(
  secret: string,
  event: { id: string; type: string },
  timestamp: number,
  body: string,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    [WEBHOOK_HEADERS.eventId]: event.id,
    [WEBHOOK_HEADERS.eventType]: event.type,
    [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    [WEBHOOK_HEADERS.signature]: webhookSignature(secret, timestamp, body),
  };
}

/**
 * What a receiver does (docs/integrations.md has the same recipe): recompute the signature
 * over the raw body, compare in constant time, and refuse timestamps too far from now.
 */
export function verifyWebhookSignature(args: {
  secret: string;
  body: string;
  timestamp: string | undefined;
  signature: string | undefined;
  nowSeconds: number;
  toleranceSeconds?: number;
}): boolean {
  const { secret, body, timestamp, signature, nowSeconds, toleranceSeconds = 300 } = args;
  if (!timestamp || !/^\d+$/.test(timestamp) || !signature) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(webhookSignature(secret, Number(timestamp), body));
  const received = Buffer.from(signature);
  return expected.length === received.length && timingSafeEqual(expected, received);
}
