import { EndpointEvent, RunFinished } from '@cronicorn/events';
import { endpointConfigWithDefaults } from '../endpoint/endpoint.config';
import { EndpointState, evolve, initialState } from '../endpoint/endpoint.state';
import { applyToolCalls } from './planner.apply';
import { parseSnippetJson, plannerHealth, toPlannerRun } from './planner.context';
import { parseToolCall, PLANNER_TOOL_DEFINITIONS, toolCallToCommand } from './planner.tools';
import { PLANNER_TOOL_NAMES, PlannerCall } from './planner.types';

const now = new Date('2025-03-03T12:00:00.000Z');
const MIN = 60_000;

describe('parseToolCall', () => {
  it('should accept each tool with JSON string or object arguments', () => {
    expect(
      parseToolCall({
        name: 'propose_interval',
        arguments: '{"intervalMs":30000,"ttlMinutes":60,"reason":"busy"}',
      }),
    ).toEqual({
      ok: true,
      call: { name: 'propose_interval', arguments: { intervalMs: 30_000, ttlMinutes: 60, reason: 'busy' } },
    });
    expect(
      parseToolCall({
        name: 'propose_next_time',
        arguments: { at: now.toISOString(), ttlMinutes: 5, reason: 'x' },
      }),
    ).toEqual(expect.objectContaining({ ok: true }));
    expect(
      parseToolCall({ name: 'pause_until', arguments: { until: now.toISOString(), reason: 'x' } }),
    ).toEqual(expect.objectContaining({ ok: true }));
    expect(parseToolCall({ name: 'clear_hints', arguments: '{"reason":"ok"}' })).toEqual({
      ok: true,
      call: { name: 'clear_hints', arguments: { reason: 'ok' } },
    });
  });

  it('should drop fields the tool does not have', () => {
    const parsed = parseToolCall({ name: 'clear_hints', arguments: { reason: 'ok', extra: 1 } });
    expect(parsed).toEqual({ ok: true, call: { name: 'clear_hints', arguments: { reason: 'ok' } } });
  });

  it.each([
    [{ name: 'delete_endpoint', arguments: {} }, 'unknown tool "delete_endpoint"'],
    [{ name: 'propose_interval', arguments: '{"intervalMs": 3' }, 'arguments are not valid JSON'],
    [{ name: 'propose_interval', arguments: '[1,2]' }, 'arguments must be a JSON object'],
    [{ name: 'propose_interval', arguments: 42 }, 'arguments must be a JSON object'],
    [
      { name: 'propose_interval', arguments: { intervalMs: '30000', ttlMinutes: 60, reason: 'r' } },
      'intervalMs must be a number',
    ],
    [{ name: 'propose_interval', arguments: { intervalMs: 30_000, reason: 'r' } }, 'ttlMinutes is required'],
    [{ name: 'pause_until', arguments: { until: 17, reason: 'r' } }, 'until must be a string'],
    [{ name: 'clear_hints', arguments: { reason: '  ' } }, 'reason must not be empty'],
    [{ name: 'clear_hints', arguments: '' }, 'reason is required'],
    [
      { name: 'propose_next_time', arguments: { ttlMinutes: Number.NaN } },
      'at is required; ttlMinutes must be a number; reason is required',
    ],
  ])('should reject %j', (raw, reason) => {
    expect(parseToolCall(raw)).toEqual({ ok: false, reason });
  });

  it('should describe every tool to the model', () => {
    expect(PLANNER_TOOL_DEFINITIONS.map((tool) => tool.name)).toEqual(PLANNER_TOOL_NAMES);
  });
});

describe('toolCallToCommand', () => {
  const ids = { hintId: 'h1' };
  it.each<[PlannerCall, object]>([
    [
      { name: 'propose_interval', arguments: { intervalMs: 30_000, ttlMinutes: 60, reason: 'r' } },
      {
        type: 'ProposeHint',
        data: expect.objectContaining({ kind: 'interval', value: 30_000, ttlMinutes: 60 }),
      },
    ],
    [
      { name: 'propose_next_time', arguments: { at: '2025-03-03T12:05:00Z', ttlMinutes: 10, reason: 'r' } },
      {
        type: 'ProposeHint',
        data: expect.objectContaining({ kind: 'one_shot', value: '2025-03-03T12:05:00Z' }),
      },
    ],
    [
      { name: 'pause_until', arguments: { until: '2025-03-03T13:00:00Z', reason: 'r' } },
      {
        type: 'ProposeHint',
        data: expect.objectContaining({ kind: 'pause', value: '2025-03-03T13:00:00Z' }),
      },
    ],
    [
      { name: 'clear_hints', arguments: { reason: 'r' } },
      { type: 'ClearHints', data: { endpointId: 'e1', reason: 'r', source: 'ai' } },
    ],
  ])('should turn %j into an endpoint command', (call, expected) => {
    const command = toolCallToCommand(call, 'e1', ids, now, 'ai', 'gpt-x');
    expect(command).toEqual(expect.objectContaining({ ...expected, metadata: { now } }));
  });

  it('should record the model for ai and none for the heuristic', () => {
    const call: PlannerCall = {
      name: 'propose_interval',
      arguments: { intervalMs: 1, ttlMinutes: 1, reason: 'r' },
    };
    expect(toolCallToCommand(call, 'e1', ids, now, 'ai', 'gpt-x').data).toEqual(
      expect.objectContaining({ source: 'ai', model: 'gpt-x', hintId: 'h1', endpointId: 'e1' }),
    );
    expect(toolCallToCommand(call, 'e1', ids, now, 'heuristic', 'heuristic').data).toEqual(
      expect.objectContaining({ source: 'heuristic', model: null }),
    );
  });
});

describe('applyToolCalls', () => {
  const created: EndpointEvent = {
    type: 'EndpointCreated',
    data: {
      endpointId: 'e1',
      jobId: 'j1',
      createdAt: '2025-03-03T00:00:00.000Z',
      config: endpointConfigWithDefaults({
        name: 'n',
        url: 'https://target.example/',
        schedule: { kind: 'interval', intervalMs: MIN },
        minIntervalMs: 15_000,
        maxIntervalMs: 5 * MIN,
      }),
    },
  };
  const state: EndpointState = evolve(initialState(), created);

  it('should clamp, reject and apply each call in order', () => {
    const result = applyToolCalls({
      state,
      now,
      source: 'ai',
      model: 'gpt-x',
      hintIds: ['h1', 'h2', 'h3', 'h4'],
      toolCalls: [
        { name: 'propose_interval', arguments: '{"intervalMs":5000,"ttlMinutes":30,"reason":"tighten"}' },
        {
          name: 'propose_next_time',
          arguments: { at: '2025-03-03T11:00:00Z', ttlMinutes: 5, reason: 'past' },
        },
        { name: 'nope', arguments: {} },
        { name: 'clear_hints', arguments: { reason: 'done' } },
      ],
    });
    expect(result.toolCalls.map(({ accepted, reason }) => [accepted, reason])).toEqual([
      [true, 'clamped from 5000 to 15000'],
      [false, 'Hint rejected: value must be in the future'],
      [false, 'unknown tool "nope"'],
      [true, null],
    ]);
    expect(result.events.map((event) => event.type)).toEqual(['AIHintProposed', 'AIHintsCleared']);
    expect(result.events[0].data).toEqual(
      expect.objectContaining({
        hintId: 'h1',
        value: 15_000,
        requested: 5_000,
        source: 'ai',
        model: 'gpt-x',
      }),
    );
    expect(result.state.status === 'active' && result.state.hints).toEqual([]);
  });

  it('should record a clear with nothing to clear as no change', () => {
    const result = applyToolCalls({
      state,
      now,
      source: 'heuristic',
      model: null,
      hintIds: [],
      toolCalls: [{ name: 'clear_hints', arguments: { reason: 'r' } }],
    });
    expect(result.events).toEqual([]);
    expect(result.toolCalls).toEqual([
      { name: 'clear_hints', arguments: { reason: 'r' }, accepted: true, reason: 'no change' },
    ]);
  });

  it('should refuse an endpoint that does not exist', () => {
    expect(() =>
      applyToolCalls({ state: initialState(), now, source: 'ai', model: null, hintIds: [], toolCalls: [] }),
    ).toThrow('No live endpoint');
  });
});

describe('planner context helpers', () => {
  const finished = (overrides: Partial<RunFinished['data']>): RunFinished['data'] => ({
    runId: 'r1',
    endpointId: 'e1',
    jobId: 'j1',
    status: 'success',
    httpStatus: 200,
    durationMs: 100,
    attempts: 1,
    error: null,
    response: { snippet: '{"queue_depth":3}', bytes: 17, truncated: false, contentType: 'application/json' },
    retryAfterMs: null,
    scheduledFor: '2025-03-03T11:59:00.000Z',
    startedAt: '2025-03-03T11:59:00.000Z',
    finishedAt: '2025-03-03T11:59:00.100Z',
    trigger: 'schedule',
    retryOf: null,
    ...overrides,
  });

  it('should parse a JSON snippet and keep other snippets as text only', () => {
    expect(toPlannerRun(finished({})).body).toEqual({ queue_depth: 3 });
    const truncated = toPlannerRun(
      finished({ response: { snippet: '{"a":', bytes: 9_999, truncated: true, contentType: null } }),
    );
    expect(truncated).toEqual(expect.objectContaining({ snippet: '{"a":', truncated: true, body: null }));
    expect(toPlannerRun(finished({ response: null })).snippet).toBeNull();
    expect(parseSnippetJson('OK')).toBeNull();
  });

  it('should summarise success rates and latency per window', () => {
    const runs = [
      toPlannerRun(finished({ finishedAt: '2025-03-03T11:59:00.000Z', durationMs: 100 })),
      toPlannerRun(finished({ finishedAt: '2025-03-03T11:30:00.000Z', durationMs: 300, status: 'failed' })),
      toPlannerRun(finished({ finishedAt: '2025-03-03T02:00:00.000Z', durationMs: 200 })),
      toPlannerRun(finished({ finishedAt: '2025-03-01T02:00:00.000Z', durationMs: 900 })),
    ];
    expect(plannerHealth(runs, 0, now)).toEqual({
      failureStreak: 0,
      successRate1h: 0.5,
      successRate24h: 2 / 3,
      latency1h: { runs: 2, p50Ms: 100, p95Ms: 300 },
      latency24h: { runs: 3, p50Ms: 200, p95Ms: 300 },
    });
    expect(plannerHealth([], 3, now).successRate1h).toBeNull();
  });
});
