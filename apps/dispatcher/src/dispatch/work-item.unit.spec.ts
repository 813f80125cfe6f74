import { PoisonMessageError } from '@cronicorn/messaging';
import { parseWorkItem } from './work-item';

const valid = {
  runId: 'r1',
  tenantId: 't1',
  jobId: 'j1',
  endpointId: 'e1',
  scheduledFor: '2030-01-01T00:00:00.000Z',
  trigger: 'manual',
  retryOf: null,
  correlationId: 'c1',
  request: {
    url: 'https://example.com/',
    method: 'POST',
    headers: { a: 'b' },
    secretHeaders: { authorization: 'enc:v1:x.y.z' },
    body: { x: 1 },
    timeoutMs: 1000,
    maxAttempts: 2,
  },
  templateContext: { trigger: { payload: 1 } },
};

describe('Work item parsing', () => {
  it('should accept a well-formed work item', () => {
    expect(parseWorkItem(JSON.stringify(valid))).toEqual(valid);
  });

  it('should default the optional correlation id and template context to null', () => {
    const { correlationId: _c, templateContext: _t, ...rest } = valid;
    expect(parseWorkItem(JSON.stringify(rest))).toMatchObject({ correlationId: null, templateContext: null });
  });

  it('should reject a payload that is not JSON as poison', () => {
    expect(() => parseWorkItem('{nope')).toThrow(PoisonMessageError);
  });

  it('should name every invalid field', () => {
    const bad = { ...valid, runId: '', trigger: 'cron', request: { ...valid.request, headers: { a: 1 } } };
    expect(() => parseWorkItem(JSON.stringify(bad))).toThrow(/runId, trigger, request\.headers/);
  });
});
