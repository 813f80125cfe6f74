import { ConfigError, DEFAULT_DATABASE_URL, DEFAULT_NATS_URL, integerFrom, loadConfig } from './config';

describe('loadConfig', () => {
  it('should apply the defaults of DESIGN §9 when nothing is set', () => {
    expect(loadConfig('command-api', {})).toMatchObject({
      port: 3000,
      databaseUrl: DEFAULT_DATABASE_URL,
      natsUrl: DEFAULT_NATS_URL,
      adminApiKey: null,
      allowPrivateTargets: false,
      secretsKey: null,
      aiModel: 'gpt-4o-mini',
      aiAnalysisIntervalMs: 300_000,
      aiDailyTokenBudget: 200_000,
      aiMaxPauseMs: 86_400_000,
      logLevel: 'info',
    });
    expect(
      ['scheduler', 'dispatcher', 'ai-planner', 'projector'].map(
        (app) => loadConfig(app as 'scheduler', {}).port,
      ),
    ).toEqual([3001, 3002, 3003, 3004]);
  });

  it('should read each variable', () => {
    expect(
      loadConfig('ai-planner', {
        AI_PLANNER_PORT: '4003',
        LOG_LEVEL: 'debug',
        ALLOW_PRIVATE_TARGETS: 'true',
        AI_ANALYSIS_INTERVAL_MS: '60000',
        DATABASE_URL: 'postgresql://u:p@db:6432/other',
      }),
    ).toMatchObject({
      port: 4003,
      logLevel: 'debug',
      allowPrivateTargets: true,
      aiAnalysisIntervalMs: 60_000,
      databaseUrl: 'postgresql://u:p@db:6432/other',
    });
  });

  it.each([
    ['PORT', 'abc', 'command-api'],
    ['PORT', '70000', 'command-api'],
    ['SCHEDULER_PORT', '30.5', 'scheduler'],
    ['PROJECTOR_PORT', '-1', 'projector'],
    ['AI_DAILY_TOKEN_BUDGET', '10k', 'ai-planner'],
    ['LOG_LEVEL', 'verbose', 'dispatcher'],
    ['ALLOW_PRIVATE_TARGETS', 'maybe', 'dispatcher'],
    ['DATABASE_URL', 'localhost:5432/cronicorn', 'projector'],
    ['DATABASE_URL', 'postgres://postgres@127.0.0.1:5432', 'projector'],
    ['DATABASE_URL', 'not a url', 'projector'],
  ] as const)('should refuse %s=%s with an error naming the variable', (name, value, app) => {
    const load = () => loadConfig(app, { [name]: value });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(new RegExp(`^${name} `));
  });

  it('should not repeat a password from DATABASE_URL in its error', () => {
    expect(() => loadConfig('projector', { DATABASE_URL: 'mysql://u:hunter2@db/x' })).toThrow(
      /^DATABASE_URL (?!.*hunter2)/,
    );
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    [' 1 ', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['0', false],
    ['No', false],
    ['off', false],
    ['', false],
  ] as const)('should read ALLOW_PRIVATE_TARGETS=%j as %s', (value, expected) => {
    expect(loadConfig('dispatcher', { ALLOW_PRIVATE_TARGETS: value }).allowPrivateTargets).toBe(expected);
  });
});

describe('CRONICORN_NATS_NAMESPACE', () => {
  it('should prefix the stream names and subjects', () => {
    const { nats } = loadConfig('scheduler', { CRONICORN_NATS_NAMESPACE: ' staging_2 ' });
    expect([nats.eventsStream, nats.eventsSubjectPrefix]).toEqual([
      'STAGING_2_CRONICORN_EVENTS',
      'staging_2.cronicorn.events',
    ]);
  });

  it.each(['a.b', 'prod>', 'two words', '*'])('should refuse %j, naming the variable', (value) => {
    expect(() => loadConfig('scheduler', { CRONICORN_NATS_NAMESPACE: value })).toThrow(
      /^CRONICORN_NATS_NAMESPACE must be/,
    );
  });
});

describe('integerFrom', () => {
  it('should take the fallback when unset or blank, and the value within its range', () => {
    expect(integerFrom({}, 'WAIT_MS', 30_000, { min: 300 })).toBe(30_000);
    expect(integerFrom({ WAIT_MS: ' ' }, 'WAIT_MS', 30_000, { min: 300 })).toBe(30_000);
    expect(integerFrom({ WAIT_MS: ' 300 ' }, 'WAIT_MS', 30_000, { min: 300 })).toBe(300);
  });

  it.each([
    ['abc', 'WAIT_MS must be an integer of at least 300, got "abc"'],
    ['299', 'WAIT_MS must be an integer of at least 300, got "299"'],
    ['300.5', 'WAIT_MS must be an integer of at least 300, got "300.5"'],
  ])('should refuse %j, naming the variable and the range', (value, message) => {
    expect(() => integerFrom({ WAIT_MS: value }, 'WAIT_MS', 30_000, { min: 300 })).toThrow(
      new ConfigError(message),
    );
  });
});
