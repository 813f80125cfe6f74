import { createHmac } from 'node:crypto';
import { verifyWebhookSignature, webhookHeaders, webhookSignature } from './webhook-signature';
import { baseRetryDelayMs, webhookSettingsFromEnv } from './webhooks.settings';

describe('Webhook signature', () => {
  const secret = 'whsec_test_secret_0123456789';
  const body = '{"id":"e1","type":"RunFinished"}';

  it('should be v1= and the hex HMAC-SHA256 of "<timestamp>.<body>"', () => {
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    expect(webhookSignature(secret, 1700000000, body)).toBe(`v1=${expected}`);
  });

  it('should send the event id, type, timestamp and signature headers', () => {
    expect(webhookHeaders(secret, { id: 'e1', type: 'RunFinished' }, 1700000000, body)).toEqual({
      'content-type': 'application/json',
      'cronicorn-event-id': 'e1',
      'cronicorn-event-type': 'RunFinished',
      'cronicorn-timestamp': '1700000000',
      'cronicorn-signature': webhookSignature(secret, 1700000000, body),
    });
  });

  it('should verify a genuine signature and refuse a changed body, another secret or an old timestamp', () => {
    const signature = webhookSignature(secret, 1700000000, body);
    const check = (overrides: Partial<Parameters<typeof verifyWebhookSignature>[0]>) =>
      verifyWebhookSignature({
        secret,
        body,
        timestamp: '1700000000',
        signature,
        nowSeconds: 1700000010,
        ...overrides,
      });
    expect(check({})).toBe(true);
    expect(check({ body: body.replace('e1', 'e2') })).toBe(false);
    expect(check({ secret: 'another' })).toBe(false);
    expect(check({ nowSeconds: 1700000000 + 301 })).toBe(false);
    expect(check({ signature: undefined })).toBe(false);
    expect(check({ timestamp: '1700000001' })).toBe(false);
  });
});

describe('Webhook retry schedule', () => {
  it('should follow the schedule and repeat its last step', () => {
    const settings = webhookSettingsFromEnv({});
    expect([1, 2, 3, 4, 5].map((n) => baseRetryDelayMs(settings, n))).toEqual([
      5_000, 30_000, 120_000, 600_000, 3_600_000,
    ]);
    expect(baseRetryDelayMs(settings, 50)).toBe(28_800_000);
    expect(settings.maxAttempts).toBe(9);
  });

  it('should refuse a non-positive setting', () => {
    expect(() => webhookSettingsFromEnv({ WEBHOOK_MAX_ATTEMPTS: '0' })).toThrow(/WEBHOOK_MAX_ATTEMPTS/);
  });
});
