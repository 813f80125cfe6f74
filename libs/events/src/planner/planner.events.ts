import { Event } from '../envelope';

// Stream `planner-<endpointId>`, written by the ai-planner: one event per analysis cycle.

/** One tool call of an analysis and what the endpoint decider made of it. */
export interface PlannerToolCall {
  name: string;
  arguments: unknown;
  accepted: boolean;
  /** Why it was rejected, or how it was clamped. */
  reason: string | null;
}

/** An analysis finished; `planner` says whether an LLM or the heuristic rules decided. */
export type AIAnalysisCompleted = Event<
  'AIAnalysisCompleted',
  {
    endpointId: string;
    analysisId: string;
    planner: 'ai' | 'heuristic';
    model: string;
    tokensIn: number;
    tokensOut: number;
    toolCalls: PlannerToolCall[];
    summary: string;
    analyzedAt: string;
  }
>;

/** An analysis was skipped: the LLM failed, timed out or answered malformed tool calls. */
export type AIAnalysisFailed = Event<
  'AIAnalysisFailed',
  {
    endpointId: string;
    analysisId: string;
    model: string;
    reason: 'timeout' | 'error' | 'malformed';
    error: string;
    /** What the LLM billed before its answer proved useless (absent in events written before: 0). */
    tokensIn?: number;
    tokensOut?: number;
    failedAt: string;
  }
>;

export type PlannerEvent = AIAnalysisCompleted | AIAnalysisFailed;
export const PlannerEventTypes = ['AIAnalysisCompleted', 'AIAnalysisFailed'] as const;
