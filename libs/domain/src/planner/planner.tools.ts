import { ClearHints, ProposeHint } from '../endpoint/endpoint.commands';
import {
  ParsedToolCall,
  PLANNER_TOOL_NAMES,
  PlannerCall,
  PlannerCommand,
  PlannerSource,
  PlannerToolName,
  ToolCallRequest,
} from './planner.types';

// From a model's raw tool call to an endpoint command. Shapes are checked here; values
// (bounds, instants, ttl) are checked and clamped by `validateHint` in the endpoint decider,
// so a user's hint and a planner's hint pass the same rules.

type FieldType = 'number' | 'string';
const FIELDS: Record<PlannerToolName, Record<string, FieldType>> = {
  propose_interval: { intervalMs: 'number', ttlMinutes: 'number', reason: 'string' },
  propose_next_time: { at: 'string', ttlMinutes: 'number', reason: 'string' },
  pause_until: { until: 'string', reason: 'string' },
  clear_hints: { reason: 'string' },
};

/**
 * Checks a raw tool call: a known tool, arguments that are a JSON object (or a string holding
 * one) with every field present and of the right type, a non-empty reason. Extra fields are
 * ignored. Pure; never throws.
 */
export function parseToolCall(raw: ToolCallRequest): ParsedToolCall {
  const name = raw?.name;
  if (typeof name !== 'string' || !(PLANNER_TOOL_NAMES as readonly string[]).includes(name)) {
    return { ok: false, reason: `unknown tool ${JSON.stringify(name ?? null)}` };
  }
  const tool = name as PlannerToolName;
  let args: unknown = raw.arguments;
  if (typeof args === 'string') {
    try {
      args = args.trim() === '' ? {} : JSON.parse(args);
    } catch {
      return { ok: false, reason: 'arguments are not valid JSON' };
    }
  }
  if (args === undefined || args === null) args = {};
  if (typeof args !== 'object' || Array.isArray(args)) {
    return { ok: false, reason: 'arguments must be a JSON object' };
  }
  const record = args as Record<string, unknown>;
  const problems: string[] = [];
  const picked: Record<string, unknown> = {};
  for (const [field, type] of Object.entries(FIELDS[tool])) {
    const value = record[field];
    if (value === undefined || value === null) problems.push(`${field} is required`);
    else if (type === 'number' && (typeof value !== 'number' || !Number.isFinite(value)))
      problems.push(`${field} must be a number`);
    else if (type === 'string' && typeof value !== 'string') problems.push(`${field} must be a string`);
    else if (field === 'reason' && (value as string).trim() === '') problems.push('reason must not be empty');
    else picked[field] = value;
  }
  if (problems.length > 0) return { ok: false, reason: problems.join('; ') };
  return { ok: true, call: { name: tool, arguments: picked } as unknown as PlannerCall };
}

/** Ids a command may need; a fresh `hintId` per proposed hint (adapters generate it). */
export interface PlannerCommandIds {
  hintId: string;
}

/**
 * The endpoint command for a checked tool call. `model` is recorded on the hint: the LLM's
 * name for `ai`, null for `heuristic`. `aiMaxPauseMs` is `AI_MAX_PAUSE_MS`.
 */
export function toolCallToCommand(
  call: PlannerCall,
  endpointId: string,
  ids: PlannerCommandIds,
  now: Date,
  source: PlannerSource,
  model: string | null,
  options: { aiMaxPauseMs?: number } = {},
): PlannerCommand {
  const metadata = { now };
  const hint = (data: Omit<ProposeHint['data'], 'endpointId' | 'hintId' | 'source' | 'model'>) => {
    const command: ProposeHint = {
      type: 'ProposeHint',
      data: {
        ...data,
        endpointId,
        hintId: ids.hintId,
        source,
        model: source === 'ai' ? model : null,
        ...(options.aiMaxPauseMs !== undefined ? { aiMaxPauseMs: options.aiMaxPauseMs } : {}),
      },
      metadata,
    };
    return command;
  };
  switch (call.name) {
    case 'propose_interval': {
      const { intervalMs, ttlMinutes, reason } = call.arguments;
      return hint({ kind: 'interval', value: intervalMs, ttlMinutes, reason });
    }
    case 'propose_next_time': {
      const { at, ttlMinutes, reason } = call.arguments;
      return hint({ kind: 'one_shot', value: at, ttlMinutes, reason });
    }
    case 'pause_until': {
      const { until, reason } = call.arguments;
      return hint({ kind: 'pause', value: until, reason });
    }
    case 'clear_hints': {
      const command: ClearHints = {
        type: 'ClearHints',
        data: { endpointId, reason: call.arguments.reason, source },
        metadata,
      };
      return command;
    }
  }
}

/**
 * The four tools as JSON Schema function definitions (OpenAI's `tools[].function`), so the
 * model is told exactly the shapes `parseToolCall` accepts.
 */
export const PLANNER_TOOL_DEFINITIONS: ReadonlyArray<{
  name: PlannerToolName;
  description: string;
  parameters: Record<string, unknown>;
}> = [
  {
    name: 'propose_interval',
    description:
      "Run the endpoint every intervalMs milliseconds for the next ttlMinutes, instead of its schedule. Clamped to the endpoint's minIntervalMs/maxIntervalMs.",
    parameters: schema({
      intervalMs: { type: 'integer', minimum: 1000, description: 'Milliseconds between runs.' },
      ttlMinutes: { type: 'number', exclusiveMinimum: 0, description: 'How long the hint lasts.' },
      reason: { type: 'string', description: 'Why, in one sentence.' },
    }),
  },
  {
    name: 'propose_next_time',
    description:
      'Run the endpoint once at the given instant (in addition to, or earlier than, its schedule).',
    parameters: schema({
      at: {
        type: 'string',
        format: 'date-time',
        description: 'ISO 8601 instant with offset, in the future.',
      },
      ttlMinutes: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'How long the hint lasts; must reach past `at`.',
      },
      reason: { type: 'string', description: 'Why, in one sentence.' },
    }),
  },
  {
    name: 'pause_until',
    description: 'Run nothing until the given instant. Capped by the maximum AI pause (24 h by default).',
    parameters: schema({
      until: {
        type: 'string',
        format: 'date-time',
        description: 'ISO 8601 instant with offset, in the future.',
      },
      reason: { type: 'string', description: 'Why, in one sentence.' },
    }),
  },
  {
    name: 'clear_hints',
    description: "Remove every active hint: the endpoint's own schedule applies again.",
    parameters: schema({ reason: { type: 'string', description: 'Why, in one sentence.' } }),
  },
];

function schema(properties: Record<string, Record<string, unknown>>): Record<string, unknown> {
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
}
