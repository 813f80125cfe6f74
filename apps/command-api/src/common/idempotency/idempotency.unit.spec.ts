import { requestHash } from './idempotency.interceptor';

describe('requestHash', () => {
  it('should not depend on the order of object keys', () => {
    expect(requestHash('POST', '/v1/jobs', { a: 1, b: { c: 2, d: [1, 2] } })).toBe(
      requestHash('POST', '/v1/jobs', { b: { d: [1, 2], c: 2 }, a: 1 }),
    );
  });

  it.each([
    ['another body', 'POST', '/v1/jobs', { a: 2 }],
    ['another path', 'POST', '/v1/tenants', { a: 1 }],
    ['array order', 'POST', '/v1/jobs', { a: 1, l: [2, 1] }],
  ])('should differ for %s', (_name, method, path, body) => {
    expect(requestHash(method, path, body)).not.toBe(requestHash('POST', '/v1/jobs', { a: 1, l: [1, 2] }));
  });
});
