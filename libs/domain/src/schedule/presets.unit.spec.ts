import { DomainError } from '../core/errors';
import { nextCronTimes } from './cron';
import { presetErrors, presetToCron, SchedulePreset } from './presets';

describe('Schedule presets', () => {
  describe('When valid', () => {
    it.each<[SchedulePreset, string]>([
      [{ every: 'day', at: '09:30', timezone: 'UTC' }, '30 9 * * *'],
      [{ every: 'week', at: '00:05', on: 'mon', timezone: 'UTC' }, '5 0 * * 1'],
      [{ every: 'week', at: '23:59', on: 'SUN', timezone: 'UTC' }, '59 23 * * 0'],
      [{ every: 'month', at: '12:00', on: 15, timezone: 'UTC' }, '0 12 15 * *'],
    ])('should turn %j into %s', (preset, cron) => {
      expect(presetToCron(preset)).toBe(cron);
    });

    it('should keep the local time across a DST change', () => {
      const preset: SchedulePreset = { every: 'day', at: '09:30', timezone: 'Europe/Berlin' };
      const times = nextCronTimes(presetToCron(preset), preset.timezone, new Date('2026-03-27T12:00:00Z'), 3);
      // CET (UTC+1) until 29 March 2026 02:00, CEST (UTC+2) after.
      expect(times.map((t) => t.toISOString())).toEqual([
        '2026-03-28T08:30:00.000Z',
        '2026-03-29T07:30:00.000Z',
        '2026-03-30T07:30:00.000Z',
      ]);
    });

    it('should run weekly on the named day in the zone', () => {
      const preset: SchedulePreset = { every: 'week', at: '08:00', on: 'fri', timezone: 'America/New_York' };
      const [first, second] = nextCronTimes(
        presetToCron(preset),
        preset.timezone,
        new Date('2026-10-28T00:00:00Z'),
        2,
      );
      expect(first.toISOString()).toBe('2026-10-30T12:00:00.000Z');
      expect(second.toISOString()).toBe('2026-11-06T13:00:00.000Z');
    });
  });

  describe('When invalid', () => {
    it.each<[Partial<SchedulePreset>, string]>([
      [{ every: 'day', at: '24:00' }, 'schedule.at'],
      [{ every: 'day', at: '9:30' }, 'schedule.at'],
      [{ every: 'day', at: '09:30', on: 'mon' }, 'schedule.on'],
      [{ every: 'week', at: '09:30' }, 'schedule.on'],
      [{ every: 'week', at: '09:30', on: 'monday' }, 'schedule.on'],
      [{ every: 'month', at: '09:30', on: 32 }, 'schedule.on'],
      [{ every: 'month', at: '09:30', on: 0 }, 'schedule.on'],
      [{ every: 'hour' as 'day', at: '09:30' }, 'schedule.every'],
      [{ every: 'day', at: '09:30', timezone: 'Mars/Olympus' }, 'schedule.timezone'],
    ])('should name the field for %j', (partial, field) => {
      const preset = { timezone: 'UTC', ...partial } as SchedulePreset;
      expect(Object.keys(presetErrors(preset))).toContain(field);
      expect(() => presetToCron(preset)).toThrow(DomainError);
    });
  });
});
