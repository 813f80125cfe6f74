import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { HeuristicOptions } from '@cronicorn/domain';
import { CronicornConfig } from '@cronicorn/platform';
import { PromptLimits } from './planners/prompt';
import { ContextLimits } from './analysis/context-builder';

/** Tuning of one ai-planner replica. The defaults suit production; tests shorten the budgets. */
export interface AiPlannerOptions {
  /** Row of the `RunFinished` log tail's checkpoint in `consumer_checkpoints`, name of its lock. */
  tailName: string;
  /** This replica's id in `lease_owner`; unique per process. */
  owner: string;
  /** `AI_ANALYSIS_INTERVAL_MS`: at most one analysis per endpoint per interval (health changes excepted). */
  analysisIntervalMs: number;
  /** `AI_DAILY_TOKEN_BUDGET`: LLM tokens per tenant per UTC day. */
  dailyTokenBudget: number;
  /** `AI_MAX_PAUSE_MS`. */
  aiMaxPauseMs: number;
  /** `OPENAI_API_KEY`; without it every analysis uses the heuristic planner. */
  openaiApiKey: string | null;
  /** `OPENAI_BASE_URL`. */
  openaiBaseUrl: string | null;
  /** `AI_MODEL`. */
  model: string;
  /** Per LLM request. */
  llmTimeoutMs: number;
  /** For a whole LLM analysis (every round). */
  analysisTimeoutMs: number;
  /** Rounds of LLM calls per analysis. */
  maxSteps: number;
  /** Client retries per LLM request. */
  llmMaxRetries: number;
  maxCompletionTokens: number;
  /** How long a claimed analysis is this replica's; past it another replica may take it over. */
  leaseMs: number;
  pollIntervalMs: number;
  /** Analyses at once per replica. */
  concurrency: number;
  /** How often the log tail reads when no append woke it. */
  tailPollMs: number;
  /** How long an analysis waits for the read models to include the run that asked for it. */
  readModelWaitMs: number;
  /** How long an on-demand request waits for a running analysis of the same endpoint. */
  busyWaitMs: number;
  heuristic: Partial<HeuristicOptions>;
  context?: ContextLimits;
  prompt?: PromptLimits;
}

export const DEFAULT_AI_PLANNER_OPTIONS = {
  tailName: 'ai-planner',
  llmTimeoutMs: 20_000,
  analysisTimeoutMs: 45_000,
  maxSteps: 3,
  llmMaxRetries: 0,
  maxCompletionTokens: 1_024,
  leaseMs: 120_000,
  pollIntervalMs: 1_000,
  concurrency: 4,
  tailPollMs: 1_000,
  busyWaitMs: 30_000,
  readModelWaitMs: 3_000,
  heuristic: {},
} satisfies Partial<AiPlannerOptions>;

/** The options of this process: the environment's contract values, the defaults, then overrides. */
export function aiPlannerOptions(
  config: CronicornConfig,
  overrides: Partial<AiPlannerOptions> = {},
): AiPlannerOptions {
  return {
    ...DEFAULT_AI_PLANNER_OPTIONS,
    owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    analysisIntervalMs: config.aiAnalysisIntervalMs,
    dailyTokenBudget: config.aiDailyTokenBudget,
    aiMaxPauseMs: config.aiMaxPauseMs,
    openaiApiKey: config.openaiApiKey,
    openaiBaseUrl: config.openaiBaseUrl,
    model: config.aiModel,
    ...overrides,
  };
}
