import { ArgumentMetadata } from '@nestjs/common';
import { endpointDecider, planNextRun, RunHistory, UpdateEndpoint } from '@cronicorn/domain';
import type { EndpointConfig, EndpointEvent } from '@cronicorn/events';
import { ApiError } from '../common/api-error';
import { createValidationPipe } from '../common/validation';
import { CreateEndpointRequestDto } from './create-endpoint/create-endpoint.request.dto';
import { changesFromUpdate, configFromCreate, scheduleEcho } from './endpoint-input.mapper';
import { UpdateEndpointRequestDto } from './update-endpoint/update-endpoint.request.dto';

const pipe = createValidationPipe();
const encrypt = (values: Record<string, string>) => values;

async function parse<T>(metatype: new () => T, body: unknown): Promise<T> {
  const metadata: ArgumentMetadata = { type: 'body', metatype };
  return (await pipe.transform(body, metadata)) as T;
}

async function fieldsOf(run: () => unknown): Promise<Record<string, string>> {
  try {
    await run();
  } catch (error) {
    if (error instanceof ApiError || (error instanceof Error && 'fields' in error)) {
      return (error as { fields?: Record<string, string> }).fields ?? {};
    }
    throw error;
  }
  throw new Error('expected a field error');
}

const base = { name: 'Weekly report', url: 'https://reports.example.com/weekly' };

async function configOf(schedule: unknown): Promise<EndpointConfig> {
  return configFromCreate(await parse(CreateEndpointRequestDto, { ...base, schedule }), encrypt);
}

/**
 * The next `count` run times the governor plans for `config`, each planned from the instant
 * the previous run started, as the scheduler does.
 */
function nextRuns(config: EndpointConfig, from: string, count: number): string[] {
  const endpoint = {
    ...config,
    endpointId: 'ep-1',
    createdAt: '2020-01-01T00:00:00.000Z',
    status: { kind: 'active' } as const,
    job: { kind: 'active' } as const,
    hints: [],
  };
  const times: string[] = [];
  let history: RunHistory = {
    lastRun: null,
    lastFinished: null,
    consecutiveFailures: 0,
    scheduledRuns: 0,
    skippedThrough: null,
    pendingPlan: null,
    inFlight: false,
    queued: false,
  };
  let now = new Date(from);
  for (let i = 0; i < count; i++) {
    const plan = planNextRun(now, endpoint, history);
    if (plan.runAt === null) throw new Error(`no plan: ${plan.reason}`);
    const at = plan.runAt.toISOString();
    times.push(at);
    history = { ...history, lastRun: { scheduledFor: at, startedAt: at }, scheduledRuns: i + 1 };
    now = new Date(plan.runAt.getTime() + 1_000);
  }
  return times;
}

describe('Schedule presets on endpoints', () => {
  describe('When an endpoint is created with a preset', () => {
    it.each([
      [{ every: 'day', at: '07:05', timezone: 'UTC' }, '5 7 * * *', { every: 'day', at: '07:05' }],
      [
        { every: 'week', at: '09:30', on: 'MON', timezone: 'Europe/Berlin' },
        '30 9 * * 1',
        { every: 'week', at: '09:30', on: 'mon' },
      ],
      [
        { every: 'month', at: '23:00', on: 31, timezone: 'America/New_York' },
        '0 23 31 * *',
        { every: 'month', at: '23:00', on: 31 },
      ],
    ])('should store %j as the cron %s with the preset kept', async (schedule, cron, preset) => {
      const config = await configOf(schedule);
      expect(config.schedule).toEqual({ kind: 'cron', cron, timezone: schedule.timezone, preset });
    });

    it('should keep a daily local time across the spring and autumn DST changes', async () => {
      const config = await configOf({ every: 'day', at: '09:30', timezone: 'Europe/Berlin' });
      // CET (UTC+1) until 29 March 2026, CEST (UTC+2) until 25 October 2026.
      expect(nextRuns(config, '2026-03-28T00:00:00Z', 3)).toEqual([
        '2026-03-28T08:30:00.000Z',
        '2026-03-29T07:30:00.000Z',
        '2026-03-30T07:30:00.000Z',
      ]);
      expect(nextRuns(config, '2026-10-24T00:00:00Z', 3)).toEqual([
        '2026-10-24T07:30:00.000Z',
        '2026-10-25T08:30:00.000Z',
        '2026-10-26T08:30:00.000Z',
      ]);
    });

    it('should still run once on the day the spring change skips its local time, shifted by the gap', async () => {
      const config = await configOf({ every: 'day', at: '02:30', timezone: 'Europe/Berlin' });
      // 02:30 does not exist on 29 March 2026 in Berlin: the run happens at 03:30 CEST.
      expect(nextRuns(config, '2026-03-28T12:00:00Z', 3)).toEqual([
        '2026-03-29T01:30:00.000Z',
        '2026-03-30T00:30:00.000Z',
        '2026-03-31T00:30:00.000Z',
      ]);
    });

    it('should run weekly on the named day across a DST change in the zone', async () => {
      const config = await configOf({ every: 'week', at: '08:00', on: 'sun', timezone: 'America/New_York' });
      // EDT (UTC-4) until 1 November 2026 02:00, EST (UTC-5) after: the change happens on a Sunday.
      expect(nextRuns(config, '2026-10-20T00:00:00Z', 3)).toEqual([
        '2026-10-25T12:00:00.000Z',
        '2026-11-01T13:00:00.000Z',
        '2026-11-08T13:00:00.000Z',
      ]);
    });

    it('should run monthly on the day, skipping months without it', async () => {
      const config = await configOf({ every: 'month', at: '06:00', on: 31, timezone: 'Europe/London' });
      expect(nextRuns(config, '2026-03-01T00:00:00Z', 3)).toEqual([
        '2026-03-31T05:00:00.000Z',
        '2026-05-31T05:00:00.000Z',
        '2026-07-31T05:00:00.000Z',
      ]);
    });
  });

  describe('When the preset is not usable', () => {
    it.each<[unknown, string]>([
      [{ every: 'hour', at: '09:30', timezone: 'UTC' }, 'schedule.every'],
      [{ every: 'day', at: '9:30', timezone: 'UTC' }, 'schedule.at'],
      [{ every: 'day', at: '09:30', timezone: 'Mars/Olympus' }, 'schedule.timezone'],
      [{ every: 'day', at: '09:30' }, 'schedule.timezone'],
      [{ every: 'day', at: '09:30', timezone: 'UTC', extra: 1 }, 'schedule.extra'],
      ['daily', 'schedule'],
    ])('should refuse %j naming %s', async (schedule, field) => {
      expect(
        Object.keys(await fieldsOf(() => parse(CreateEndpointRequestDto, { ...base, schedule }))),
      ).toContain(field);
    });

    it.each<[unknown, string]>([
      [{ every: 'week', at: '09:30', timezone: 'UTC' }, 'schedule.on'],
      [{ every: 'week', at: '09:30', on: 'monday', timezone: 'UTC' }, 'schedule.on'],
      [{ every: 'month', at: '09:30', on: 0, timezone: 'UTC' }, 'schedule.on'],
      [{ every: 'day', at: '09:30', on: 3, timezone: 'UTC' }, 'schedule.on'],
    ])('should refuse %j naming %s (domain rules)', async (schedule, field) => {
      const dto = await parse(CreateEndpointRequestDto, { ...base, schedule });
      expect(Object.keys(await fieldsOf(() => configFromCreate(dto, encrypt)))).toEqual([field]);
    });

    it('should refuse a preset together with another schedule, naming both', async () => {
      const dto = await parse(CreateEndpointRequestDto, {
        ...base,
        cron: '0 9 * * *',
        timezone: 'UTC',
        schedule: { every: 'day', at: '09:00', timezone: 'UTC' },
      });
      expect(Object.keys(await fieldsOf(() => configFromCreate(dto, encrypt))).sort()).toEqual([
        'cron',
        'schedule',
        'timezone',
      ]);
    });
  });

  describe('When an endpoint with a preset is updated', () => {
    const decide = (config: EndpointConfig, changes: UpdateEndpoint['data']['changes']) => {
      const created: EndpointEvent = {
        type: 'EndpointCreated',
        data: { endpointId: 'ep-1', jobId: 'job-1', config, createdAt: '2026-01-01T00:00:00.000Z' },
      };
      const state = endpointDecider.evolve(endpointDecider.initialState(), created);
      const command: UpdateEndpoint = {
        type: 'UpdateEndpoint',
        data: { endpointId: 'ep-1', changes },
        metadata: { now: new Date('2026-01-02T00:00:00Z') },
      };
      const [event] = endpointDecider.decide(command, state);
      if (event?.type !== 'EndpointUpdated') throw new Error('expected EndpointUpdated');
      return event.data.config.schedule;
    };

    it('should keep the preset when only the time zone moves, and drop it for a new cron', async () => {
      const config = await configOf({ every: 'week', at: '09:30', on: 'mon', timezone: 'Europe/Berlin' });
      const moved = decide(
        config,
        changesFromUpdate(await parse(UpdateEndpointRequestDto, { timezone: 'Asia/Tokyo' }), encrypt),
      );
      expect(moved).toEqual({
        kind: 'cron',
        cron: '30 9 * * 1',
        timezone: 'Asia/Tokyo',
        preset: { every: 'week', at: '09:30', on: 'mon' },
      });
      const recron = decide(
        config,
        changesFromUpdate(await parse(UpdateEndpointRequestDto, { cron: '0 10 * * 1' }), encrypt),
      );
      expect(recron).toEqual({ kind: 'cron', cron: '0 10 * * 1', timezone: 'Europe/Berlin' });
    });

    it('should turn an interval endpoint into a preset one', async () => {
      const config = configFromCreate(
        await parse(CreateEndpointRequestDto, { ...base, intervalMs: 60_000 }),
        encrypt,
      );
      const body = { schedule: { every: 'month', at: '00:00', on: 1, timezone: 'UTC' } };
      const next = decide(config, changesFromUpdate(await parse(UpdateEndpointRequestDto, body), encrypt));
      expect(next).toEqual({
        kind: 'cron',
        cron: '0 0 1 * *',
        timezone: 'UTC',
        preset: { every: 'month', at: '00:00', on: 1 },
      });
    });
  });

  describe('When an endpoint is shown', () => {
    it('should echo the schedule as cron and timezone, and as the preset', async () => {
      const config = await configOf({ every: 'week', at: '09:30', on: 'mon', timezone: 'Europe/Berlin' });
      expect(scheduleEcho(config.schedule)).toEqual({
        cron: '30 9 * * 1',
        timezone: 'Europe/Berlin',
        schedule: { every: 'week', at: '09:30', on: 'mon', timezone: 'Europe/Berlin' },
      });
      expect(scheduleEcho({ kind: 'cron', cron: '0 9 * * *', timezone: 'UTC' })).toEqual({
        cron: '0 9 * * *',
        timezone: 'UTC',
        schedule: null,
      });
      expect(scheduleEcho({ kind: 'interval', intervalMs: 60_000 })).toEqual({
        cron: null,
        timezone: null,
        schedule: null,
      });
    });
  });
});
