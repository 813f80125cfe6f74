import { EndpointConfig, HintKind } from '@cronicorn/events';
import { endpointConfigWithDefaults } from './endpoint.config';
import { HintDecision, HintProposal, validateHint } from './endpoint.hints';

const now = new Date('2025-03-10T12:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const plus = (ms: number) => new Date(now.getTime() + ms).toISOString();

const bounded: EndpointConfig = endpointConfigWithDefaults({
  name: 'Health',
  url: 'https://api.example.com/health',
  schedule: { kind: 'interval', intervalMs: 60_000 },
  minIntervalMs: 10_000,
  maxIntervalMs: 10 * MIN,
});
const unbounded: EndpointConfig = { ...bounded, minIntervalMs: null, maxIntervalMs: null };
const dailyCron: EndpointConfig = {
  ...bounded,
  schedule: { kind: 'cron', cron: '0 9 * * *', timezone: 'UTC' },
  minIntervalMs: null,
  maxIntervalMs: 2 * HOUR,
};
const weeklyCron: EndpointConfig = {
  ...unbounded,
  schedule: { kind: 'cron', cron: '0 9 * * 1', timezone: 'UTC' },
};

const proposal = (
  kind: HintKind,
  value: number | string,
  extra: Partial<HintProposal> = {},
): HintProposal => ({
  kind,
  value,
  reason: 'because',
  source: 'ai',
  ...extra,
});
const accepted = (
  kind: HintKind,
  value: number | string,
  expiresAt: string,
  requested: number | string | null = null,
): HintDecision => ({
  outcome: 'accepted',
  hint: { kind, value, requested, expiresAt, reason: 'because' },
  clampedFrom: requested,
});
const rejected = (code: string, field = 'value') => ({ outcome: 'rejected', code, field });

type Row = [string, EndpointConfig, HintProposal, HintDecision | ReturnType<typeof rejected>];

describe('Endpoint hints', () => {
  describe('When an interval is proposed', () => {
    // prettier-ignore
    it.each<Row>([
      ['inside the bounds: kept', bounded, proposal('interval', 30_000), accepted('interval', 30_000, plus(HOUR))],
      ['below minIntervalMs: raised', bounded, proposal('interval', 2_000), accepted('interval', 10_000, plus(HOUR), 2_000)],
      ['above maxIntervalMs: lowered', bounded, proposal('interval', 2 * HOUR), accepted('interval', 10 * MIN, plus(HOUR), 2 * HOUR)],
      ['fractional: rounded', bounded, proposal('interval', 30_000.6), accepted('interval', 30_001, plus(HOUR), 30_000.6)],
      ['without bounds, below 1 s: raised to 1 s', unbounded, proposal('interval', 500, { source: 'api' }), accepted('interval', 1_000, plus(HOUR), 500)],
      ['without bounds, from the AI: capped at the AI pause limit', unbounded, proposal('interval', 3 * DAY), accepted('interval', DAY, plus(HOUR), 3 * DAY)],
      ['without bounds, from the heuristic, custom limit', unbounded, proposal('interval', 3 * DAY, { source: 'heuristic', aiMaxPauseMs: HOUR }), accepted('interval', HOUR, plus(HOUR), 3 * DAY)],
      ['without bounds, from a user: kept', unbounded, proposal('interval', 3 * DAY, { source: 'api' }), accepted('interval', 3 * DAY, plus(HOUR))],
      ['without bounds, from a user, past the dates: capped at ten years', unbounded, proposal('interval', Number.MAX_SAFE_INTEGER, { source: 'api' }), accepted('interval', 3_650 * DAY, plus(HOUR), Number.MAX_SAFE_INTEGER)],
      ['a daily cron with a 2 h max, its own period: kept (it stays daily)', dailyCron, proposal('interval', DAY), accepted('interval', DAY, plus(HOUR))],
      ['a daily cron with a 2 h max, past its period: lowered to it', dailyCron, proposal('interval', 3 * DAY), accepted('interval', DAY, plus(HOUR), 3 * DAY)],
      ['a weekly cron without bounds, from the AI, its own period: kept', weeklyCron, proposal('interval', 7 * DAY), accepted('interval', 7 * DAY, plus(HOUR))],
      ['zero: rejected', bounded, proposal('interval', 0), rejected('HINT.INVALID_VALUE')],
      ['negative: rejected', bounded, proposal('interval', -5_000), rejected('HINT.INVALID_VALUE')],
      ['not a number: rejected', bounded, proposal('interval', '30000'), rejected('HINT.INVALID_VALUE')],
      ['NaN: rejected', bounded, proposal('interval', Number.NaN), rejected('HINT.INVALID_VALUE')],
    ])('%s', (_title, config, input, expected) => {
      expect(validateHint(config, input, now)).toMatchObject(expected);
    });
  });

  describe('When a lifetime is given', () => {
    // prettier-ignore
    it.each<Row>([
      ['ttlMinutes: from now', bounded, proposal('interval', 30_000, { ttlMinutes: 15 }), accepted('interval', 30_000, plus(15 * MIN))],
      ['expiresAt: as given, in UTC', bounded, proposal('interval', 30_000, { expiresAt: '2025-03-10T14:00:00+01:00' }), accepted('interval', 30_000, plus(HOUR))],
      ['beyond 7 days: shortened to 7 days', bounded, proposal('interval', 30_000, { ttlMinutes: 30 * 24 * 60 }), accepted('interval', 30_000, plus(7 * DAY))],
      ['ttlMinutes zero: rejected', bounded, proposal('interval', 30_000, { ttlMinutes: 0 }), rejected('HINT.INVALID_TTL', 'ttlMinutes')],
      ['ttlMinutes negative: rejected', bounded, proposal('interval', 30_000, { ttlMinutes: -1 }), rejected('HINT.INVALID_TTL', 'ttlMinutes')],
      ['expiresAt in the past: rejected', bounded, proposal('interval', 30_000, { expiresAt: plus(-MIN) }), rejected('HINT.INVALID_TTL', 'expiresAt')],
      ['both: rejected', bounded, proposal('interval', 30_000, { ttlMinutes: 5, expiresAt: plus(HOUR) }), rejected('HINT.INVALID_TTL', 'ttlMinutes')],
    ])('%s', (_title, config, input, expected) => {
      expect(validateHint(config, input, now)).toMatchObject(expected);
    });
  });

  describe('When a one-shot is proposed', () => {
    // prettier-ignore
    it.each<Row>([
      ['in the future: kept, expiring an hour after its time', bounded, proposal('one_shot', plus(30 * MIN)), accepted('one_shot', plus(30 * MIN), plus(90 * MIN))],
      ['with an offset: written in UTC', bounded, proposal('one_shot', '2025-03-10T13:30:00+01:00'), accepted('one_shot', plus(30 * MIN), plus(90 * MIN))],
      ['with a ttl past its time: kept', bounded, proposal('one_shot', plus(30 * MIN), { ttlMinutes: 60 }), accepted('one_shot', plus(30 * MIN), plus(HOUR))],
      ['near the 7-day limit: expiry capped', bounded, proposal('one_shot', plus(7 * DAY - MIN)), accepted('one_shot', plus(7 * DAY - MIN), plus(7 * DAY))],
      ['in the past: rejected', bounded, proposal('one_shot', plus(-MIN)), rejected('HINT.IN_PAST')],
      ['now: rejected', bounded, proposal('one_shot', plus(0)), rejected('HINT.IN_PAST')],
      ['beyond 7 days: rejected', bounded, proposal('one_shot', plus(8 * DAY)), rejected('HINT.TOO_FAR')],
      ['expiring before its time: rejected', bounded, proposal('one_shot', plus(2 * HOUR), { ttlMinutes: 60 }), rejected('HINT.EXPIRES_BEFORE_RUN', 'ttlMinutes')],
      ['without an offset: rejected', bounded, proposal('one_shot', '2025-03-10T13:00:00'), rejected('HINT.INVALID_VALUE')],
      ['a number: rejected', bounded, proposal('one_shot', 1_741_611_600_000), rejected('HINT.INVALID_VALUE')],
    ])('%s', (_title, config, input, expected) => {
      expect(validateHint(config, input, now)).toMatchObject(expected);
    });
  });

  describe('When a pause is proposed', () => {
    // prettier-ignore
    it.each<Row>([
      ['by the AI within 24 h: kept, expiring at its end', bounded, proposal('pause', plus(2 * HOUR)), accepted('pause', plus(2 * HOUR), plus(2 * HOUR))],
      ['by the AI beyond 24 h: clamped to 24 h', bounded, proposal('pause', plus(3 * DAY)), accepted('pause', plus(DAY), plus(DAY), plus(3 * DAY))],
      ['by the heuristic beyond 24 h: clamped', bounded, proposal('pause', plus(3 * DAY), { source: 'heuristic' }), accepted('pause', plus(DAY), plus(DAY), plus(3 * DAY))],
      ['by the AI with a 1 h limit: clamped to 1 h', bounded, proposal('pause', plus(2 * HOUR), { aiMaxPauseMs: HOUR }), accepted('pause', plus(HOUR), plus(HOUR), plus(2 * HOUR))],
      ['by a user for 3 days: kept', bounded, proposal('pause', plus(3 * DAY), { source: 'api' }), accepted('pause', plus(3 * DAY), plus(3 * DAY))],
      ['by a user beyond 7 days: clamped to 7 days', bounded, proposal('pause', plus(30 * DAY), { source: 'api' }), accepted('pause', plus(7 * DAY), plus(7 * DAY), plus(30 * DAY))],
      ['with a ttl: still expiring at its end', bounded, proposal('pause', plus(2 * HOUR), { ttlMinutes: 5 }), accepted('pause', plus(2 * HOUR), plus(2 * HOUR))],
      ['in the past: rejected', bounded, proposal('pause', plus(-HOUR)), rejected('HINT.IN_PAST')],
      ['unreadable: rejected', bounded, proposal('pause', 'tomorrow'), rejected('HINT.INVALID_VALUE')],
    ])('%s', (_title, config, input, expected) => {
      expect(validateHint(config, input, now)).toMatchObject(expected);
    });
  });

  describe('When the proposal is malformed', () => {
    it('should reject an overlong reason', () => {
      expect(
        validateHint(bounded, proposal('interval', 30_000, { reason: 'x'.repeat(1_001) }), now),
      ).toMatchObject(rejected('HINT.INVALID_REASON', 'reason'));
    });

    it('should reject an unknown kind', () => {
      const input = { ...proposal('interval', 30_000), kind: 'sleep' } as unknown as HintProposal;
      expect(validateHint(bounded, input, now)).toMatchObject(rejected('HINT.INVALID_VALUE', 'kind'));
    });

    it('should explain every rejection', () => {
      const decision = validateHint(bounded, proposal('one_shot', plus(-MIN)), now);
      expect(decision).toEqual({
        outcome: 'rejected',
        code: 'HINT.IN_PAST',
        field: 'value',
        reason: 'must be in the future',
      });
    });
  });
});
