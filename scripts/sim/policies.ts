import { HeuristicPlanner } from '@cronicorn/domain';
import { Policy } from './engine';
import { ScriptedLlmPlanner } from './scripted-llm';

/** The policies compared: the governor alone, and the governor steered by each planner. */
export const POLICIES: readonly Policy[] = [
  { id: 'static', label: 'static', planner: null, source: 'heuristic' },
  { id: 'heuristic', label: 'heuristic', planner: () => new HeuristicPlanner(), source: 'heuristic' },
  { id: 'scripted-llm', label: 'scripted LLM', planner: () => new ScriptedLlmPlanner(), source: 'ai' },
  // Not a contender: what the heuristic's budget buys without adaptation.
  {
    id: 'static-5min',
    label: 'static (5 min)',
    planner: null,
    source: 'heuristic',
    config: { schedule: { kind: 'interval', intervalMs: 5 * 60_000 } },
  },
];
