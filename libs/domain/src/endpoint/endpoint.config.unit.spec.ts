import { EndpointConfig } from '@cronicorn/events';
import { DomainError } from '../core/errors';
import {
  endpointConfigWithDefaults,
  jsonEqual,
  resolveSchedule,
  scheduleChangeFromInput,
  validateEndpointConfig,
} from './endpoint.config';

const now = new Date('2025-03-10T12:00:00.000Z');
const valid: EndpointConfig = endpointConfigWithDefaults({
  name: 'Health',
  url: 'https://api.example.com/health',
  schedule: { kind: 'cron', cron: '0 9 * * 1-5', timezone: 'Europe/Paris' },
});

const thrown = (fn: () => unknown): DomainError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
};

describe('Endpoint configuration', () => {
  describe('When valid', () => {
    it('should have no field errors', () => {
      expect(validateEndpointConfig(valid, now, { scheduleIsNew: true })).toEqual({});
    });

    it('should fill defaults without letting undefined overwrite them', () => {
      const config = endpointConfigWithDefaults({
        ...valid,
        method: undefined,
        timeoutMs: undefined,
        maxAttempts: 3,
      });
      expect(config).toMatchObject({
        method: 'GET',
        timeoutMs: 30_000,
        maxAttempts: 3,
        catchUp: 'once',
        overlap: 'skip',
      });
    });
  });

  describe('When a field is invalid', () => {
    // prettier-ignore
    it.each<[string, Partial<EndpointConfig>, string]>([
      ['an empty name', { name: '' }, 'name'],
      ['a non-http url', { url: 'file:///etc/passwd' }, 'url'],
      ['a relative url', { url: '/health' }, 'url'],
      ['a url with user and password', { url: 'http://u:p@example.com/x' }, 'url'],
      ['a url with a user name only', { url: 'https://token@example.com/x' }, 'url'],
      ['a url with a password only', { url: 'https://:p@example.com/x' }, 'url'],
      ['an unknown method', { method: 'TRACE' as EndpointConfig['method'] }, 'method'],
      ['a header name with a space', { headers: { 'X Bad': '1' } }, 'headers'],
      ['a header value with a newline', { headers: { 'X-Ok': 'a\r\nInjected: 1' } }, 'headers'],
      ['a clear-text secret header', { secretHeaders: { Authorization: 'Bearer x' } }, 'secretHeaders.Authorization'],
      ['a secret also set in clear', { headers: { authorization: 'x' }, secretHeaders: { Authorization: 'enc:v1:abc' } }, 'secretHeaders.Authorization'],
      ['a zero timeout', { timeoutMs: 0 }, 'timeoutMs'],
      ['a timeout above 5 minutes', { timeoutMs: 300_001 }, 'timeoutMs'],
      ['an invalid cron', { schedule: { kind: 'cron', cron: '61 * * * *', timezone: 'UTC' } }, 'schedule.cron'],
      ['a cron that never fires', { schedule: { kind: 'cron', cron: '0 0 30 2 *', timezone: 'UTC' } }, 'schedule.cron'],
      ['an unknown time zone', { schedule: { kind: 'cron', cron: '0 9 * * *', timezone: 'Europe/Atlantis' } }, 'schedule.timezone'],
      ['an interval under 1 s', { schedule: { kind: 'interval', intervalMs: 999 } }, 'schedule.intervalMs'],
      ['an interval past the dates', { schedule: { kind: 'interval', intervalMs: Number.MAX_SAFE_INTEGER } }, 'schedule.intervalMs'],
      ['a one-time run in the past', { schedule: { kind: 'once', runAt: '2025-03-10T11:59:59Z' } }, 'schedule.runAt'],
      ['a one-time run without an offset', { schedule: { kind: 'once', runAt: '2025-03-11T12:00:00' } }, 'schedule.runAt'],
      ['no schedule kind', { schedule: {} as EndpointConfig['schedule'] }, 'schedule'],
      ['an end before the start', { startAt: '2025-04-01T00:00:00Z', endAt: '2025-03-01T00:00:00Z' }, 'endAt'],
      ['an unreadable start', { startAt: 'soon' }, 'startAt'],
      ['zero max runs', { maxRuns: 0 }, 'maxRuns'],
      ['a min interval above the max', { minIntervalMs: 60_000, maxIntervalMs: 30_000 }, 'minIntervalMs'],
      ['a max interval under 1 s', { maxIntervalMs: 500 }, 'maxIntervalMs'],
      ['zero attempts', { maxAttempts: 0 }, 'maxAttempts'],
      ['eleven attempts', { maxAttempts: 11 }, 'maxAttempts'],
      ['negative jitter', { jitterMs: -1 }, 'jitterMs'],
      ['a jitter of over ten years', { jitterMs: 3_650 * 86_400_000 + 1 }, 'jitterMs'],
      ['a max interval of over ten years', { maxIntervalMs: 3_650 * 86_400_000 + 1 }, 'maxIntervalMs'],
      ['an unknown catch-up policy', { catchUp: 'never' as EndpointConfig['catchUp'] }, 'catchUp'],
      ['an unknown overlap policy', { overlap: 'all' as EndpointConfig['overlap'] }, 'overlap'],
      ['zero failures before pausing', { pauseAfterFailures: 0 }, 'pauseAfterFailures'],
      ['a trigger name with spaces', { triggers: ['on deploy'] }, 'triggers'],
      ['a trigger name in upper case', { triggers: ['Deploy'] }, 'triggers'],
      ['a repeated trigger', { triggers: ['deploy', 'deploy'] }, 'triggers'],
    ])('should name the field for %s', (_title, change, field) => {
      const errors = validateEndpointConfig({ ...valid, ...change }, now, { scheduleIsNew: true });
      expect(Object.keys(errors)).toEqual([field]);
    });

    it('should tell where credentials in a url belong instead', () => {
      const errors = validateEndpointConfig({ ...valid, url: 'http://u:p@example.com/x' }, now, {
        scheduleIsNew: true,
      });
      expect(errors.url).toMatch(/secret header.*Authorization.*secretHeaders/);
    });

    it('should accept an @ in the path or query, which is no user info', () => {
      const url = 'https://example.com/users/a@b.example?to=c@d.example';
      expect(validateEndpointConfig({ ...valid, url }, now, { scheduleIsNew: true })).toEqual({});
    });

    it('should accept a past one-time run that is not being set', () => {
      const ran = { ...valid, schedule: { kind: 'once' as const, runAt: '2025-03-09T12:00:00Z' } };
      expect(validateEndpointConfig(ran, now, { scheduleIsNew: false })).toEqual({});
    });
  });

  describe('When reading the schedule fields of a request', () => {
    it('should read each kind', () => {
      expect(scheduleChangeFromInput({ cron: '0 9 * * *', timezone: 'UTC' })).toEqual({
        kind: 'cron',
        cron: '0 9 * * *',
        timezone: 'UTC',
      });
      expect(scheduleChangeFromInput({ intervalMs: 5_000 })).toEqual({ kind: 'interval', intervalMs: 5_000 });
      expect(scheduleChangeFromInput({ runAt: '2025-03-11T00:00:00Z' })).toEqual({
        kind: 'once',
        runAt: '2025-03-11T00:00:00Z',
      });
      expect(scheduleChangeFromInput({})).toBeUndefined();
    });

    it('should refuse more than one kind, naming each field given', () => {
      const error = thrown(() => scheduleChangeFromInput({ cron: '* * * * *', intervalMs: 5_000 }));
      expect(error.kind).toBe('invalid');
      expect(Object.keys(error.fields ?? {})).toEqual(['cron', 'intervalMs']);
    });

    it('should keep the current cron or zone when only the other changes', () => {
      const current = { kind: 'cron' as const, cron: '0 9 * * *', timezone: 'Europe/Paris' };
      expect(resolveSchedule({ kind: 'cron', timezone: 'UTC' }, current)).toEqual({
        ...current,
        timezone: 'UTC',
      });
      expect(resolveSchedule({ kind: 'cron', cron: '0 10 * * *' }, current)).toEqual({
        ...current,
        cron: '0 10 * * *',
      });
    });

    it('should keep a preset while its cron stays, and drop it for a new cron', () => {
      const preset = { every: 'week' as const, at: '09:30', on: 'mon' };
      const current = { kind: 'cron' as const, cron: '30 9 * * 1', timezone: 'Europe/Paris', preset };
      expect(resolveSchedule({ kind: 'cron', timezone: 'UTC' }, current)).toEqual({
        ...current,
        timezone: 'UTC',
      });
      expect(resolveSchedule({ kind: 'cron', cron: '0 10 * * *' }, current)).toEqual({
        kind: 'cron',
        cron: '0 10 * * *',
        timezone: 'Europe/Paris',
      });
      const daily = { every: 'day' as const, at: '07:00' };
      expect(
        resolveSchedule({ kind: 'cron', cron: '0 7 * * *', timezone: 'UTC', preset: daily }, current),
      ).toEqual({
        kind: 'cron',
        cron: '0 7 * * *',
        timezone: 'UTC',
        preset: daily,
      });
    });

    it('should refuse a kept preset that is invalid or does not match the cron', () => {
      const withPreset = (cron: string, preset: object) =>
        ({ ...valid, schedule: { kind: 'cron', cron, timezone: 'UTC', preset } }) as EndpointConfig;
      const options = { scheduleIsNew: true };
      expect(
        validateEndpointConfig(
          withPreset('30 9 * * 1', { every: 'week', at: '09:30', on: 'mon' }),
          now,
          options,
        ),
      ).toEqual({});
      expect(
        validateEndpointConfig(
          withPreset('0 9 * * 1', { every: 'week', at: '09:30', on: 'mon' }),
          now,
          options,
        ),
      ).toEqual({
        'schedule.preset': 'does not match the cron expression',
      });
      expect(
        Object.keys(
          validateEndpointConfig(withPreset('30 9 * * 1', { every: 'week', at: '9h' }), now, options),
        ),
      ).toEqual(['schedule.at', 'schedule.on']);
    });

    it('should refuse a zone alone when there is no cron to move', () => {
      const error = thrown(() =>
        resolveSchedule({ kind: 'cron', timezone: 'UTC' }, { kind: 'interval', intervalMs: 5_000 }),
      );
      expect(error.fields).toEqual({ cron: 'required: the current schedule is not a cron' });
    });
  });

  describe('When comparing values', () => {
    it('should ignore key order and undefined keys', () => {
      expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(true);
      expect(jsonEqual({ a: 1 }, { a: '1' })).toBe(false);
      expect(jsonEqual([1, 2], [2, 1])).toBe(false);
      expect(jsonEqual(null, {})).toBe(false);
    });
  });
});
