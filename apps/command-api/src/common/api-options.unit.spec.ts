import { loadApiOptions } from './api-options';

describe('loadApiOptions', () => {
  it('should allow 10 event streams per tenant unless API_MAX_STREAMS_PER_TENANT says otherwise', () => {
    expect(loadApiOptions({}).maxStreamsPerTenant).toBe(10);
    expect(loadApiOptions({ API_MAX_STREAMS_PER_TENANT: '3' }).maxStreamsPerTenant).toBe(3);
  });

  it.each(['0', '2.5', 'ten'])('should reject API_MAX_STREAMS_PER_TENANT=%s naming it', (value) => {
    expect(() => loadApiOptions({ API_MAX_STREAMS_PER_TENANT: value })).toThrow(
      /API_MAX_STREAMS_PER_TENANT must be an integer of at least 1/,
    );
  });

  it('should take a blank rate as unset, not as 0 (which turns the limit off)', () => {
    expect(loadApiOptions({ API_RATE_LIMIT_PER_SECOND: ' ' }).rateLimitPerSecond).toBe(50);
    expect(loadApiOptions({ API_RATE_LIMIT_PER_SECOND: '0.5' }).rateLimitPerSecond).toBe(0.5);
  });

  it('should reject a rate that is not a number, naming it', () => {
    expect(() => loadApiOptions({ API_RATE_LIMIT_PER_SECOND: 'fast' })).toThrow(
      'API_RATE_LIMIT_PER_SECOND must be a non-negative number, got "fast"',
    );
  });
});
