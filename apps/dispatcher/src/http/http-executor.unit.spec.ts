import { parseRetryAfter, snippetOf } from './http-executor';

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('should read delay-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('should read an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:01:30 GMT', now)).toBe(90_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
  });

  // Only a process outside UTC (TZ=America/New_York npx jest …) tells GMT from local time.
  it('should read the asctime and RFC 850 forms, the first as GMT though it names no zone', () => {
    expect(parseRetryAfter('Wed Jan  1 00:01:30 2025', now)).toBe(90_000);
    expect(parseRetryAfter('Wednesday, 01-Jan-25 00:01:30 GMT', now)).toBe(90_000);
  });

  it('should cap a Retry-After at 7 days, so that the plan after it stays a valid instant', () => {
    const week = 7 * 24 * 3600 * 1000;
    // 10^14 s is past the last instant a Date can hold: uncapped, the governor's plan would be Invalid Date
    expect(parseRetryAfter('99999999999999', now)).toBe(week);
    expect(parseRetryAfter('Sat, 13 Sep 275760 00:00:00 GMT', now)).toBe(week);
    expect(parseRetryAfter(String(7 * 24 * 3600), now)).toBe(week);
    expect(parseRetryAfter(String(7 * 24 * 3600 - 1), now)).toBe(week - 1000);
  });

  it('should ignore absent or invalid values', () => {
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('', now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });
});

describe('snippetOf', () => {
  it('should keep JSON as the target sent it: large numbers, duplicate keys and spacing', () => {
    const sent = '{"id":12345678901234567890,"x":1.0,"dup":1,"dup":2}';
    expect(snippetOf(Buffer.from(sent), 100)).toBe(sent);
  });

  it('should keep text that only looks like JSON as it is', () => {
    expect(snippetOf(Buffer.from('{"a":1'), 100)).toBe('{"a":1');
  });

  it('should cut on a UTF-8 boundary', () => {
    expect(snippetOf(Buffer.from('aé€'), 4)).toBe('aé');
    expect(snippetOf(Buffer.from('aé€'), 3)).toBe('aé');
    expect(snippetOf(Buffer.from('aé€'), 2)).toBe('a');
    expect(Buffer.byteLength(snippetOf(Buffer.from('€'.repeat(2000)), 4096))).toBeLessThanOrEqual(4096);
  });

  it('should drop a character cut in half by the read limit', () => {
    expect(snippetOf(Buffer.from('a€').subarray(0, 3), 100)).toBe('a');
  });

  it('should replace NUL, which Postgres cannot store, within the byte budget', () => {
    expect(snippetOf(Buffer.from('a\0b'), 100)).toBe('a\uFFFDb');
    expect(snippetOf(Buffer.alloc(10), 7)).toBe('\uFFFD\uFFFD');
  });

  it('should remove secrets before the cut, while the strings that spell them are whole', () => {
    const secret = 'Bearer tok+en/abcdef';
    const escaped = 'Bearer tok\\u002Ben\\/abcdef';
    expect(JSON.parse(`"${escaped}"`)).toBe(secret);
    const head = `{"pad":"${'x'.repeat(100)}","auth":"`;
    const body = Buffer.from(`${head}${escaped}"}`);
    // The cut falls inside the escaped secret: cut first, its start would be left.
    const snippet = snippetOf(body, head.length + 12, [secret]);
    expect(snippet.startsWith(head)).toBe(true);
    expect(snippet).not.toContain('tok');
    expect(snippetOf(Buffer.from(`${head}${escaped}"}`), 1_000, [secret])).toBe(`${head}[redacted]"}`);
  });

  it('should strip a byte order mark', () => {
    expect(snippetOf(Buffer.from('\uFEFF[1]'), 100)).toBe('[1]');
  });
});
