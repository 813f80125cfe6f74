import { redactResult, redactText } from './secret-redaction';

describe('Secret redaction', () => {
  it('should remove every occurrence of a secret value', () => {
    expect(redactText('a s3cr3t-token b s3cr3t-token', ['s3cr3t-token'])).toBe('a [redacted] b [redacted]');
  });

  it('should remove the JSON-escaped form found in a pretty-printed echo', () => {
    const secret = 'pa"ss\\word';
    const echoed = JSON.stringify({ headers: { authorization: secret } }, null, 2);
    expect(echoed).not.toContain(secret);
    expect(redactText(echoed, [secret])).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(redactText(echoed, [secret])).toContain('[redacted]');
  });

  it.each([
    ['a slash-escaping JSON echo', '{"auth":"Bearer a\\/b+c&d"}'],
    ['a URL-encoded echo', 'next=/login?token=Bearer%20a%2Fb%2Bc%26d'],
    ['an HTML echo', '<td>Bearer a/b+c&amp;d</td>'],
  ])('should remove the secret from %s', (_, echoed) => {
    const redacted = redactText(echoed, ['Bearer a/b+c&d']);
    expect(redacted).toContain('[redacted]');
    expect(redacted).not.toMatch(/a.{1,3}b.{1,3}c/);
  });

  it('should remove a secret a JSON echo spells with unicode escapes, also in a snippet cut short', () => {
    const secret = 'Bearer abc/def';
    const escaped = '"Bearer \\u0061bc\\/d\\u0065f"';
    expect(JSON.parse(escaped)).toBe(secret);
    for (const echoed of [
      `{"auth":${escaped},"n":12345678901234567890}`,
      `{"auth":${escaped},"rest":"cut sh`,
    ]) {
      const redacted = redactText(echoed, [secret]);
      expect(redacted).toContain('"auth":"[redacted]"');
      expect(redacted).not.toMatch(/u0061bc/);
    }
    expect(redactText(`{"n":12345678901234567890,"other":"\\u0041"}`, [secret])).toBe(
      `{"n":12345678901234567890,"other":"\\u0041"}`,
    );
  });

  it('should leave text alone whose escaped quotes open a literal that never closes', () => {
    // A required closing quote made each of these restart a scan to the end (quadratic: seconds
    // for 32 KiB); the pattern now matches once and resumes after it.
    const text = `"${'\\"'.repeat(32 * 1024)}`;
    expect(redactText(text, ['s3cr3t-token'])).toBe(text);
  });

  it('should remove the start of a secret cut off at the end of a snippet', () => {
    expect(redactText('token: Bearer abcd', ['Bearer abcdefgh'])).toBe('token: [redacted]');
  });

  it('should leave a tail shorter than four characters alone', () => {
    expect(redactText('value abc', ['abcdefgh'])).toBe('value abc');
  });

  it('should redact a secret that contains another secret entirely', () => {
    expect(redactText('x=longsecret-and-more', ['longsecret', 'longsecret-and-more'])).toBe('x=[redacted]');
  });

  it('should redact the snippet, the content type and the error of a call result', () => {
    const result = redactResult(
      {
        status: 'failed',
        httpStatus: 500,
        durationMs: 1,
        attempts: 1,
        error: 'boom key-123456',
        response: {
          snippet: '{"auth":"key-123456"}',
          bytes: 20,
          truncated: false,
          contentType: 'application/json; auth=key-123456',
        },
        retryAfterMs: null,
      },
      ['key-123456'],
    );
    expect(result.error).toBe('boom [redacted]');
    expect(result.response?.snippet).toBe('{"auth":"[redacted]"}');
    expect(result.response?.contentType).toBe('application/json; auth=[redacted]');
  });
});
