import { Counter, Histogram, Registry } from 'prom-client';
import { PlannerFailureReason } from './planners/planner-failure';

/** Hooks the ai-planner calls after an analysis was recorded (or could not run). */
export interface AiPlannerMetrics {
  onAnalysis?(result: {
    planner: 'ai' | 'heuristic';
    outcome: 'completed' | 'failed';
    trigger: 'run' | 'demand';
    tokensIn: number;
    tokensOut: number;
    accepted: number;
    rejected: number;
    durationMs: number;
  }): void;
  /** An LLM cycle was skipped (AIAnalysisFailed): timeout, error, malformed answer. */
  onSkipped?(reason: PlannerFailureReason): void;
  /** The tenant was over its daily token budget: the heuristic planner ran instead. */
  onBudgetExhausted?(): void;
  /** An analysis could not run at all (Postgres or NATS trouble); retried later. */
  onCrashed?(): void;
}

/** The ai-planner's Prometheus metrics on the app's registry (create once per registry). */
export function aiPlannerMetrics(registry: Registry, prefix = 'cronicorn_'): AiPlannerMetrics {
  const analyses = new Counter({
    name: `${prefix}ai_planner_analyses_total`,
    help: 'Analyses recorded, by planner (ai, heuristic), outcome (completed, failed) and trigger (run, demand)',
    labelNames: ['planner', 'outcome', 'trigger'] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: `${prefix}ai_planner_tokens_total`,
    help: 'LLM tokens used, by direction (in = prompt, out = completion)',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  const toolCalls = new Counter({
    name: `${prefix}ai_planner_tool_calls_total`,
    help: 'Tool calls through the endpoint decider, by result (accepted, rejected)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const skipped = new Counter({
    name: `${prefix}ai_planner_skipped_cycles_total`,
    help: 'LLM analysis cycles skipped (AIAnalysisFailed), by reason (timeout, error, malformed)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const overBudget = new Counter({
    name: `${prefix}ai_planner_budget_exhausted_total`,
    help: 'Analyses run by the heuristic planner because the tenant was over its daily token budget',
    registers: [registry],
  });
  const crashed = new Counter({
    name: `${prefix}ai_planner_analysis_errors_total`,
    help: 'Analyses that could not run (Postgres or NATS trouble) and were retried later',
    registers: [registry],
  });
  const duration = new Histogram({
    name: `${prefix}ai_planner_analysis_duration_seconds`,
    help: 'Time from claim to recorded analysis, by planner',
    labelNames: ['planner'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60],
    registers: [registry],
  });
  return {
    onAnalysis: (r) => {
      analyses.inc({ planner: r.planner, outcome: r.outcome, trigger: r.trigger });
      tokens.inc({ direction: 'in' }, r.tokensIn);
      tokens.inc({ direction: 'out' }, r.tokensOut);
      toolCalls.inc({ result: 'accepted' }, r.accepted);
      toolCalls.inc({ result: 'rejected' }, r.rejected);
      duration.observe({ planner: r.planner }, r.durationMs / 1000);
    },
    onSkipped: (reason) => skipped.inc({ reason }),
    onBudgetExhausted: () => overBudget.inc(),
    onCrashed: () => crashed.inc(),
  };
}
