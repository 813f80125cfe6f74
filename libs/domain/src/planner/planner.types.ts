import { EndpointSchedule, HintSource, HttpMethod, RunStatus, RunTrigger } from '@cronicorn/events';
import { ClearHints, ProposeHint } from '../endpoint/endpoint.commands';
import { ActiveHint } from '../endpoint/endpoint.state';

// The planner's contract (DESIGN §7): what a planner sees (`PlannerContext`), what it answers
// (`PlannerDecision`: tool calls, raw), and how a raw tool call becomes an endpoint command.
// The LLM planner (apps/ai-planner) and the heuristic planner speak the same tools; their
// calls go through `parseToolCall`, then the endpoint decider (`validateHint`) clamps them.

//////////////////////////////////////// Tools

export type PlannerToolName = 'propose_interval' | 'propose_next_time' | 'pause_until' | 'clear_hints';

export const PLANNER_TOOL_NAMES: readonly PlannerToolName[] = [
  'propose_interval',
  'propose_next_time',
  'pause_until',
  'clear_hints',
];

/** Run every `intervalMs` for the next `ttlMinutes`, instead of the baseline schedule. */
export interface ProposeIntervalArgs {
  intervalMs: number;
  ttlMinutes: number;
  reason: string;
}

/** Run once at `at` (ISO 8601 with offset); the hint lives `ttlMinutes` from now. */
export interface ProposeNextTimeArgs {
  at: string;
  ttlMinutes: number;
  reason: string;
}

/** Run nothing until `until` (ISO 8601 with offset); capped by `AI_MAX_PAUSE_MS`. */
export interface PauseUntilArgs {
  until: string;
  reason: string;
}

/** Drop every active hint: the baseline schedule applies again. */
export interface ClearHintsArgs {
  reason: string;
}

/** A tool call whose arguments have the right shape (values are checked by `validateHint`). */
export type PlannerCall =
  | { name: 'propose_interval'; arguments: ProposeIntervalArgs }
  | { name: 'propose_next_time'; arguments: ProposeNextTimeArgs }
  | { name: 'pause_until'; arguments: PauseUntilArgs }
  | { name: 'clear_hints'; arguments: ClearHintsArgs };

/**
 * A tool call as a planner returned it, unchecked. `arguments` is what the model sent: a JSON
 * string (OpenAI's `function.arguments`) or an already parsed object.
 */
export interface ToolCallRequest {
  name: string;
  arguments: unknown;
}

export type ParsedToolCall = { ok: true; call: PlannerCall } | { ok: false; reason: string };

//////////////////////////////////////// Context

/** One finished run as a planner sees it. */
export interface PlannerRun {
  runId: string;
  trigger: RunTrigger;
  status: RunStatus;
  httpStatus: number | null;
  durationMs: number;
  startedAt: string;
  finishedAt: string;
  /** The target's Retry-After on a 429/503, in ms. */
  retryAfterMs: number | null;
  error: string | null;
  /** The bounded response body snippet, or null when there was no response. */
  snippet: string | null;
  truncated: boolean;
  /** The snippet parsed as JSON when it parses (a truncated snippet usually does not), else null. */
  body: unknown;
}

/** Latency percentiles of the finished runs in a window; null without runs. */
export interface LatencySummary {
  runs: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** How the endpoint has been doing. Success rates are 0..1, null without runs in the window. */
export interface PlannerHealth {
  /** Failures in a row (the governor's `consecutiveFailures`). */
  failureStreak: number;
  successRate1h: number | null;
  successRate24h: number | null;
  latency1h: LatencySummary;
  latency24h: LatencySummary;
}

/** Another endpoint of the same job and how its latest run went. */
export interface PlannerSibling {
  endpointId: string;
  name: string;
  description: string | null;
  lastStatus: RunStatus | null;
  lastHttpStatus: number | null;
  lastFinishedAt: string | null;
}

/** The user's timing configuration: adaptation stays inside it. */
export interface PlannerBounds {
  minIntervalMs: number | null;
  maxIntervalMs: number | null;
  startAt: string | null;
  endAt: string | null;
  pauseAfterFailures: number | null;
}

/**
 * Everything a planner sees about one endpoint at `now` (DESIGN §7). JSON-ready: the LLM
 * planner sends it as the user message. `recentRuns` is newest first.
 */
export interface PlannerContext {
  endpointId: string;
  jobId: string;
  name: string;
  /** The endpoint's purpose, in the user's words. */
  description: string | null;
  request: { method: HttpMethod; url: string };
  schedule: EndpointSchedule;
  bounds: PlannerBounds;
  /** Hints in force at `now`. */
  activeHints: ActiveHint[];
  siblings: PlannerSibling[];
  recentRuns: PlannerRun[];
  health: PlannerHealth;
  /** The next planned run, when the caller knows it. */
  nextRunAt: string | null;
  now: string;
}

//////////////////////////////////////// Planner

/** What a planner answers for one analysis, recorded in `AIAnalysisCompleted`. */
export interface PlannerDecision {
  /** Zero or more calls, applied in order; each is accepted or rejected on its own. */
  toolCalls: ToolCallRequest[];
  summary: string;
  /** The LLM's model name, or `heuristic`. */
  model: string;
  tokensIn: number;
  tokensOut: number;
}

/** An LLM or the heuristic rules, behind one interface. */
export interface Planner {
  plan(context: PlannerContext): Promise<PlannerDecision>;
}

/** Who proposed the hints: `ai` (an LLM) or `heuristic`. */
export type PlannerSource = Extract<HintSource, 'ai' | 'heuristic'>;

/** The endpoint command a checked tool call becomes. */
export type PlannerCommand = ProposeHint | ClearHints;
