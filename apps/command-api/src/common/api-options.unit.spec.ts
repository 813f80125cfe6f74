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
});
