import {
  AIHintProposed,
  AIHintsCleared,
  EndpointArchived,
  EndpointConfig,
  EndpointCreated,
  EndpointEvent,
  EndpointPaused,
  EndpointResumed,
  RunRequested,
} from '@cronicorn/events';
import { fold } from '../core/decider';
import { DeciderSpecification, domainError } from '../testing/decider-spec';
import { EndpointCommand, ProposeHint } from './endpoint.commands';
import { endpointConfigWithDefaults } from './endpoint.config';
import { endpointDecider } from './endpoint.decider';
import { activeHints, endpointPauseAt } from './endpoint.state';

const now = new Date('2025-03-10T12:00:00.000Z');
const at = now.toISOString();
const inOneHour = '2025-03-10T13:00:00.000Z';
const inTwoHours = '2025-03-10T14:00:00.000Z';
const endpointId = 'ep-1';
const jobId = 'job-1';
const spec = DeciderSpecification.for(endpointDecider);

const config: EndpointConfig = endpointConfigWithDefaults({
  name: 'Health',
  url: 'https://api.example.com/health',
  schedule: { kind: 'interval', intervalMs: 60_000 },
  minIntervalMs: 10_000,
  maxIntervalMs: 600_000,
  triggers: ['deploy'],
});

const command = <C extends EndpointCommand>(type: C['type'], data: C['data'], when = now) =>
  ({ type, data, metadata: { now: when } }) as C;

const created = (cfg: EndpointConfig = config): EndpointCreated => ({
  type: 'EndpointCreated',
  data: { endpointId, jobId, config: cfg, createdAt: '2025-03-01T00:00:00.000Z' },
});
const paused = (
  until: string | null,
  by: 'user' | 'failures' = 'user',
  reason: string | null = 'deploy',
): EndpointPaused => ({
  type: 'EndpointPaused',
  data: { endpointId, until, reason, by, pausedAt: at },
});
const resumed: EndpointResumed = { type: 'EndpointResumed', data: { endpointId, resumedAt: at } };
const archived: EndpointArchived = { type: 'EndpointArchived', data: { endpointId, archivedAt: at } };
const hintProposed = (
  kind: AIHintProposed['data']['kind'],
  value: number | string,
  expiresAt: string,
  hintId = `hint-${kind}`,
): AIHintProposed => ({
  type: 'AIHintProposed',
  data: {
    endpointId,
    hintId,
    kind,
    value,
    requested: null,
    expiresAt,
    reason: 'load',
    source: 'ai',
    model: 'gpt-test',
    proposedAt: '2025-03-10T11:30:00.000Z',
  },
});
const runRequested = (runId: string): RunRequested => ({
  type: 'RunRequested',
  data: { endpointId, runId, source: 'manual', trigger: null, retryOf: null, requestedAt: at },
});

const create = (
  cfg: EndpointConfig = config,
  jobStatus: 'empty' | 'active' | 'paused' | 'archived' = 'active',
) => command('CreateEndpoint', { endpointId, jobId, jobStatus, config: cfg });
const update = (changes: Extract<EndpointCommand, { type: 'UpdateEndpoint' }>['data']['changes']) =>
  command('UpdateEndpoint', { endpointId, changes });
const pause = (until: string | null, reason: string | null = 'deploy') =>
  command('PauseEndpoint', { endpointId, until, reason });
const pauseForFailures = (until: string | null = null) =>
  command('PauseEndpointForFailures', { endpointId, until, reason: '5 consecutive failures' });
const resume = command('ResumeEndpoint', { endpointId });
const archive = command('ArchiveEndpoint', { endpointId });
const resetFailures = command('ResetFailures', { endpointId });
const manualRun = (runId = 'run-1') =>
  command('RequestRun', { endpointId, runId, source: 'manual', trigger: null, retryOf: null });
const proposeHint = (proposal: Partial<ProposeHint['data']> = {}) =>
  command('ProposeHint', {
    endpointId,
    hintId: 'hint-new',
    model: 'gpt-test',
    kind: 'interval',
    value: 30_000,
    ttlMinutes: 30,
    reason: 'errors rising',
    source: 'ai',
    ...proposal,
  });
const clearHints = command('ClearHints', { endpointId, reason: 'back to normal', source: 'api' });

const everyCommandButCreateAndArchive: [string, EndpointCommand][] = [
  ['UpdateEndpoint', update({ name: 'x' })],
  ['PauseEndpoint', pause(null)],
  ['PauseEndpointForFailures', pauseForFailures()],
  ['ResumeEndpoint', resume],
  ['ResetFailures', resetFailures],
  ['RequestRun', manualRun()],
  ['ProposeHint', proposeHint()],
  ['ClearHints', clearHints],
];

describe('Endpoint', () => {
  describe('When not created', () => {
    it('should create the endpoint', () => {
      spec
        .given([])
        .when(create())
        .then({ type: 'EndpointCreated', data: { endpointId, jobId, config, createdAt: at } });
    });

    it('should create it in a paused job', () => {
      spec
        .given([])
        .when(create(config, 'paused'))
        .then({ type: 'EndpointCreated', data: { endpointId, jobId, config, createdAt: at } });
    });

    it('should write a one-time run in UTC', () => {
      const once = { ...config, schedule: { kind: 'once' as const, runAt: '2025-03-10T15:00:00+02:00' } };
      spec
        .given([])
        .when(create(once))
        .then({
          type: 'EndpointCreated',
          data: {
            endpointId,
            jobId,
            config: { ...once, schedule: { kind: 'once', runAt: inOneHour } },
            createdAt: at,
          },
        });
    });

    it('should refuse a job that is archived', () => {
      spec.given([]).when(create(config, 'archived')).thenThrows(domainError('JOB.ARCHIVED', 'conflict'));
    });

    it('should answer not found for a missing job', () => {
      spec.given([]).when(create(config, 'empty')).thenThrows(domainError('JOB.NOT_FOUND', 'not_found'));
    });

    it('should name every invalid field', () => {
      spec
        .given([])
        .when(create({ ...config, url: 'ftp://example.com', maxAttempts: 11, minIntervalMs: 700_000 }))
        .thenThrows(
          domainError('ENDPOINT.INVALID_CONFIG', 'invalid', ['url', 'maxAttempts', 'minIntervalMs']),
        );
    });

    it('should refuse a one-time run in the past', () => {
      spec
        .given([])
        .when(create({ ...config, schedule: { kind: 'once', runAt: '2025-03-10T11:00:00.000Z' } }))
        .thenThrows(domainError('ENDPOINT.INVALID_CONFIG', 'invalid', ['schedule.runAt']));
    });

    it('should refuse a cron that is invalid in its time zone', () => {
      spec
        .given([])
        .when(create({ ...config, schedule: { kind: 'cron', cron: '0 9 * * *', timezone: 'Mars/Olympus' } }))
        .thenThrows(domainError('ENDPOINT.INVALID_CONFIG', 'invalid', ['schedule.timezone']));
    });

    it.each([...everyCommandButCreateAndArchive, ['ArchiveEndpoint', archive] as [string, EndpointCommand]])(
      'should answer not found to %s',
      (_name, cmd) => {
        spec.given([]).when(cmd).thenThrows(domainError('ENDPOINT.NOT_FOUND', 'not_found'));
      },
    );
  });

  describe('When active', () => {
    const given = [created()];

    it('should refuse to create it again', () => {
      spec.given(given).when(create()).thenThrows(domainError('ENDPOINT.ALREADY_EXISTS', 'conflict'));
    });

    it('should record only the changed fields with the resulting config', () => {
      spec
        .given(given)
        .when(update({ name: 'Health', timeoutMs: 5_000, headers: {} }))
        .then({
          type: 'EndpointUpdated',
          data: {
            endpointId,
            changes: { timeoutMs: 5_000 },
            config: { ...config, timeoutMs: 5_000 },
            updatedAt: at,
          },
        });
    });

    it('should do nothing when nothing changes', () => {
      spec
        .given(given)
        .when(
          update({
            name: 'Health',
            schedule: { kind: 'interval', intervalMs: 60_000 },
            triggers: ['deploy'],
          }),
        )
        .thenNothing();
    });

    it('should switch from an interval to a cron, in UTC when no zone is given', () => {
      const schedule = { kind: 'cron' as const, cron: '*/5 * * * *', timezone: 'UTC' };
      spec
        .given(given)
        .when(update({ schedule: { kind: 'cron', cron: '*/5 * * * *' } }))
        .then({
          type: 'EndpointUpdated',
          data: { endpointId, changes: { schedule }, config: { ...config, schedule }, updatedAt: at },
        });
    });

    it('should refuse a time zone alone on an interval schedule', () => {
      spec
        .given(given)
        .when(update({ schedule: { kind: 'cron', timezone: 'Europe/Paris' } }))
        .thenThrows(domainError('ENDPOINT.INVALID_CONFIG', 'invalid', ['cron']));
    });

    it('should validate the merged result as a whole', () => {
      spec
        .given(given)
        .when(update({ maxIntervalMs: 5_000 }))
        .thenThrows(domainError('ENDPOINT.INVALID_CONFIG', 'invalid', ['minIntervalMs']));
    });

    it('should refuse a switch to a one-time run in the past', () => {
      spec
        .given(given)
        .when(update({ schedule: { kind: 'once', runAt: '2025-03-09T12:00:00.000Z' } }))
        .thenThrows(domainError('ENDPOINT.INVALID_CONFIG', 'invalid', ['schedule.runAt']));
    });

    it('should refuse clear-text secret headers', () => {
      spec
        .given(given)
        .when(update({ secretHeaders: { Authorization: 'Bearer abc' } }))
        .thenThrows(domainError('ENDPOINT.INVALID_CONFIG', 'invalid', ['secretHeaders.Authorization']));
    });

    it('should pause until a time, by user', () => {
      spec.given(given).when(pause(inOneHour)).then(paused(inOneHour));
    });

    it('should pause indefinitely without a reason', () => {
      spec
        .given(given)
        .when(pause(null, null))
        .then(paused(null, 'user', null));
    });

    it('should refuse a pause that ends in the past', () => {
      spec
        .given(given)
        .when(pause('2025-03-10T11:00:00.000Z'))
        .thenThrows(domainError('ENDPOINT.INVALID_PAUSE', 'invalid', ['until']));
    });

    it('should pause after failures', () => {
      spec
        .given(given)
        .when(pauseForFailures())
        .then(paused(null, 'failures', '5 consecutive failures'));
    });

    it('should refuse to resume', () => {
      spec.given(given).when(resume).thenThrows(domainError('ENDPOINT.NOT_PAUSED', 'conflict'));
    });

    it('should reset failures', () => {
      spec
        .given(given)
        .when(resetFailures)
        .then({ type: 'FailuresReset', data: { endpointId, resetAt: at } });
    });

    it('should request a manual run', () => {
      spec.given(given).when(manualRun()).then(runRequested('run-1'));
    });

    it('should request a run for a trigger it listens to', () => {
      const trigger = { name: 'deploy', payload: { sha: 'abc' } };
      spec
        .given(given)
        .when(
          command('RequestRun', { endpointId, runId: 'run-2', source: 'trigger', trigger, retryOf: null }),
        )
        .then({
          type: 'RunRequested',
          data: { endpointId, runId: 'run-2', source: 'trigger', trigger, retryOf: null, requestedAt: at },
        });
    });

    it('should request a retry linked to the original run', () => {
      spec
        .given(given)
        .when(
          command('RequestRun', {
            endpointId,
            runId: 'run-3',
            source: 'retry',
            trigger: null,
            retryOf: 'run-0',
          }),
        )
        .then({
          type: 'RunRequested',
          data: {
            endpointId,
            runId: 'run-3',
            source: 'retry',
            trigger: null,
            retryOf: 'run-0',
            requestedAt: at,
          },
        });
    });

    it('should retry a triggered run with the original trigger, even one it no longer listens to', () => {
      const trigger = { name: 'retired-trigger', payload: { sha: 'abc' } };
      spec
        .given(given)
        .when(
          command('RequestRun', { endpointId, runId: 'run-4', source: 'retry', trigger, retryOf: 'run-2' }),
        )
        .then({
          type: 'RunRequested',
          data: { endpointId, runId: 'run-4', source: 'retry', trigger, retryOf: 'run-2', requestedAt: at },
        });
    });

    it('should refuse a trigger on a manual run', () => {
      const trigger = { name: 'deploy', payload: null };
      spec
        .given(given)
        .when(command('RequestRun', { endpointId, runId: 'run-5', source: 'manual', trigger, retryOf: null }))
        .thenThrows(domainError('ENDPOINT.INVALID_RUN_REQUEST', 'invalid', ['trigger']));
    });

    it('should refuse a trigger it does not listen to', () => {
      const trigger = { name: 'other', payload: null };
      spec
        .given(given)
        .when(
          command('RequestRun', { endpointId, runId: 'run-2', source: 'trigger', trigger, retryOf: null }),
        )
        .thenThrows(domainError('ENDPOINT.NOT_LISTENING', 'conflict'));
    });

    it('should refuse a retry without the original run', () => {
      spec
        .given(given)
        .when(
          command('RequestRun', {
            endpointId,
            runId: 'run-3',
            source: 'retry',
            trigger: null,
            retryOf: null,
          }),
        )
        .thenThrows(domainError('ENDPOINT.INVALID_RUN_REQUEST', 'invalid', ['retryOf']));
    });

    it('should record a clamped interval hint with what was asked', () => {
      spec
        .given(given)
        .when(proposeHint({ value: 2_000 }))
        .then({
          type: 'AIHintProposed',
          data: {
            endpointId,
            hintId: 'hint-new',
            kind: 'interval',
            value: 10_000,
            requested: 2_000,
            expiresAt: '2025-03-10T12:30:00.000Z',
            reason: 'errors rising',
            source: 'ai',
            model: 'gpt-test',
            proposedAt: at,
          },
        });
    });

    it('should refuse a one-shot hint in the past, naming the field', () => {
      spec
        .given(given)
        .when(proposeHint({ kind: 'one_shot', value: '2025-03-10T11:00:00.000Z' }))
        .thenThrows(domainError('HINT.IN_PAST', 'invalid', ['value']));
    });

    it('should do nothing when there is no hint to clear', () => {
      spec.given(given).when(clearHints).thenNothing();
    });

    it('should archive', () => {
      spec.given(given).when(archive).then(archived);
    });
  });

  describe('When on a cron schedule', () => {
    const cron = {
      ...config,
      schedule: { kind: 'cron' as const, cron: '0 9 * * 1-5', timezone: 'Europe/Paris' },
    };

    it('should move the cron to another time zone alone', () => {
      const schedule = { kind: 'cron' as const, cron: '0 9 * * 1-5', timezone: 'America/New_York' };
      spec
        .given([created(cron)])
        .when(update({ schedule: { kind: 'cron', timezone: 'America/New_York' } }))
        .then({
          type: 'EndpointUpdated',
          data: { endpointId, changes: { schedule }, config: { ...cron, schedule }, updatedAt: at },
        });
    });
  });

  describe('When its one-time run has passed', () => {
    const once = { ...config, schedule: { kind: 'once' as const, runAt: '2025-03-09T12:00:00.000Z' } };

    it('should still accept changes that leave the schedule alone', () => {
      spec
        .given([created(once)])
        .when(update({ description: 'ran yesterday' }))
        .then({
          type: 'EndpointUpdated',
          data: {
            endpointId,
            changes: { description: 'ran yesterday' },
            config: { ...once, description: 'ran yesterday' },
            updatedAt: at,
          },
        });
    });
  });

  describe('When paused', () => {
    const given = [created(), paused(inOneHour)];

    it('should do nothing when paused again until the same time', () => {
      spec.given(given).when(pause('2025-03-10T14:00:00+01:00', 'other reason')).thenNothing();
    });

    it('should move the end of the pause', () => {
      spec.given(given).when(pause(inTwoHours)).then(paused(inTwoHours));
    });

    it('should not let a failure pause replace a user pause', () => {
      spec.given(given).when(pauseForFailures()).thenNothing();
    });

    it('should resume', () => {
      spec.given(given).when(resume).then(resumed);
    });

    it('should still accept updates and manual runs', () => {
      spec
        .given(given)
        .when(update({ timeoutMs: 1_000 }))
        .then({
          type: 'EndpointUpdated',
          data: {
            endpointId,
            changes: { timeoutMs: 1_000 },
            config: { ...config, timeoutMs: 1_000 },
            updatedAt: at,
          },
        });
      spec.given(given).when(manualRun()).then(runRequested('run-1'));
    });

    it('should keep the pause in its state', () => {
      expect(endpointPauseAt(fold(endpointDecider, given), now)).toEqual({
        until: inOneHour,
        reason: 'deploy',
        by: 'user',
        pausedAt: at,
      });
    });
  });

  describe('When paused after failures', () => {
    const given = [created(), paused(null, 'failures', '5 consecutive failures')];

    it('should resume', () => {
      spec.given(given).when(resume).then(resumed);
    });

    it('should let a user pause it until a time', () => {
      spec.given(given).when(pause(inOneHour)).then(paused(inOneHour));
    });
  });

  describe('When a pause has run out', () => {
    const given = [created(), paused('2025-03-10T11:00:00.000Z')];

    it('should refuse to resume', () => {
      spec.given(given).when(resume).thenThrows(domainError('ENDPOINT.NOT_PAUSED', 'conflict'));
    });

    it('should pause after failures', () => {
      spec
        .given(given)
        .when(pauseForFailures())
        .then(paused(null, 'failures', '5 consecutive failures'));
    });
  });

  describe('When resumed', () => {
    it('should pause again', () => {
      spec
        .given([created(), paused(null), resumed])
        .when(pause(null))
        .then(paused(null));
    });
  });

  describe('When a run was requested', () => {
    it('should do nothing when the same run is requested again', () => {
      spec
        .given([created(), runRequested('run-1'), runRequested('run-2')])
        .when(manualRun('run-1'))
        .thenNothing();
    });
  });

  describe('When hints are active', () => {
    const given: EndpointEvent[] = [
      created(),
      hintProposed('interval', 20_000, inOneHour),
      hintProposed('pause', inTwoHours, inTwoHours),
    ];

    it('should clear them', () => {
      const cleared: AIHintsCleared = {
        type: 'AIHintsCleared',
        data: { endpointId, reason: 'back to normal', source: 'api', clearedAt: at },
      };
      spec.given(given).when(clearHints).then(cleared);
    });

    it('should do nothing when the same hint is proposed again', () => {
      spec
        .given(given)
        .when(proposeHint({ hintId: 'hint-interval' }))
        .thenNothing();
    });

    it('should not count as a pause that resume could end', () => {
      spec.given(given).when(resume).thenThrows(domainError('ENDPOINT.NOT_PAUSED', 'conflict'));
    });

    it('should keep one hint per kind, the newest', () => {
      const state = fold(endpointDecider, [...given, hintProposed('interval', 40_000, inTwoHours, 'hint-2')]);
      expect(activeHints(state, now).map((h) => [h.kind, h.value, h.hintId])).toEqual([
        ['interval', 40_000, 'hint-2'],
        ['pause', inTwoHours, 'hint-pause'],
      ]);
    });

    it('should ignore hints once they expire', () => {
      const state = fold(endpointDecider, given);
      expect(activeHints(state, new Date('2025-03-10T13:30:00.000Z')).map((h) => h.kind)).toEqual(['pause']);
      expect(activeHints(state, new Date(inTwoHours))).toEqual([]);
    });

    it('should do nothing when clearing after every hint expired', () => {
      spec
        .given(given)
        .when(command('ClearHints', { endpointId, reason: 'late', source: 'ai' }, new Date(inTwoHours)))
        .thenNothing();
    });

    it('should forget them once cleared', () => {
      const state = fold(endpointDecider, [
        ...given,
        { type: 'AIHintsCleared', data: { endpointId, reason: 'x', source: 'api', clearedAt: at } },
      ]);
      expect(activeHints(state, now)).toEqual([]);
    });
  });

  describe('When archived', () => {
    const given = [created(), archived];

    it('should do nothing when archived again', () => {
      spec.given(given).when(archive).thenNothing();
    });

    it('should refuse to be created again', () => {
      spec.given(given).when(create()).thenThrows(domainError('ENDPOINT.ALREADY_EXISTS', 'conflict'));
    });

    it.each(everyCommandButCreateAndArchive)('should refuse %s', (_name, cmd) => {
      spec.given(given).when(cmd).thenThrows(domainError('ENDPOINT.ARCHIVED', 'conflict'));
    });

    it('should have no active hints', () => {
      const state = fold(endpointDecider, [created(), hintProposed('interval', 20_000, inOneHour), archived]);
      expect(activeHints(state, now)).toEqual([]);
    });
  });
});
