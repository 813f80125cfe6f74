import { Planner, PlannerContext, PlannerDecision, PlannerRun, ToolCallRequest } from '@cronicorn/domain';

// Stands in for an LLM in the simulator: the tool calls a sensible model would make from the
// same context, sent as OpenAI sends them (arguments as JSON strings) and put through the same
// parse/validate path. It is bolder than the heuristic (straight to the ceiling when healthy,
// a one-shot at the predicted end of a backlog), rounds to human values (some below the
// minimum, which the decider clamps), and slips like a model does: every ninth analysis sends
// `ttlMinutes` as a string, which is rejected.

const MINUTE = 60_000;
const HUMAN_INTERVALS = [10_000, 15_000, 30_000, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE];

export const SCRIPTED_LLM_MODEL = 'scripted-llm';

export class ScriptedLlmPlanner implements Planner {
  private analyses = 0;

  plan(context: PlannerContext): Promise<PlannerDecision> {
    this.analyses++;
    const { calls, summary } = this.think(context);
    const slip = this.analyses % 9 === 0;
    const toolCalls: ToolCallRequest[] = calls.map(({ name, args }, index) => ({
      name,
      arguments: JSON.stringify(
        slip && index === 0 && 'ttlMinutes' in args ? { ...args, ttlMinutes: String(args.ttlMinutes) } : args,
      ),
    }));
    const prompt = JSON.stringify(context).length;
    return Promise.resolve({
      toolCalls,
      summary,
      model: SCRIPTED_LLM_MODEL,
      // Roughly what a real call costs: system prompt and tool schemas, plus the context.
      tokensIn: 700 + Math.ceil(prompt / 4),
      tokensOut: 40 + 35 * toolCalls.length,
    });
  }

  private think(ctx: PlannerContext): Thought {
    const now = Date.parse(ctx.now);
    const [latest, previous] = ctx.recentRuns;
    const baseline = ctx.schedule.kind === 'interval' ? ctx.schedule.intervalMs : MINUTE;
    const ceiling = ctx.bounds.maxIntervalMs ?? 4 * baseline;
    const interval = ctx.activeHints.find((h) => h.kind === 'interval');
    const hasHints = ctx.activeHints.length > 0;
    const clear = (reason: string): Thought => ({
      calls: hasHints ? [{ name: 'clear_hints', args: { reason } }] : [],
      summary: reason,
    });
    const every = (intervalMs: number, ttlMinutes: number, reason: string): Thought => {
      const left = interval ? Date.parse(interval.expiresAt) - now : 0;
      const same = interval && Math.abs(interval.value - intervalMs) <= 0.05 * intervalMs;
      if (same && left > 15 * MINUTE) return { calls: [], summary: `${reason} (already so)` };
      return {
        calls: [{ name: 'propose_interval', args: { intervalMs, ttlMinutes, reason } }],
        summary: reason,
      };
    };
    if (!latest) return { calls: [], summary: 'no runs yet' };

    if ((latest.httpStatus === 429 || latest.httpStatus === 503) && latest.retryAfterMs) {
      const resume = Date.parse(latest.finishedAt) + latest.retryAfterMs + 5_000;
      if (resume > now) {
        const at = new Date(resume).toISOString();
        if (ctx.activeHints.some((h) => h.kind === 'one_shot' && h.value === at))
          return { calls: [], summary: 'waiting for Retry-After' };
        const ttlMinutes = Math.ceil((resume - now) / MINUTE) + 15;
        return {
          calls: [{ name: 'propose_next_time', args: { at, ttlMinutes, reason: 'honour Retry-After' } }],
          summary: 'throttled',
        };
      }
    }
    if (latest.status !== 'success') {
      if (ctx.health.failureStreak <= 1) {
        const at = new Date(now + 20_000).toISOString();
        return {
          calls: [
            {
              name: 'propose_next_time',
              args: { at, ttlMinutes: 10, reason: 'first failure: check again shortly to confirm' },
            },
          ],
          summary: 'first failure, confirming',
        };
      }
      return every(
        ceiling,
        60,
        `down (${ctx.health.failureStreak} failures): back off to the maximum interval`,
      );
    }
    if (previous && previous.status !== 'success') return clear('recovered: back to the normal schedule');

    const depth = queueDepth(latest);
    if (depth !== null) {
      const earlier = ctx.recentRuns.slice(1).find((run) => queueDepth(run) !== null);
      const before = earlier ? queueDepth(earlier) : null;
      if (depth === 0 && before !== null && before > 0) return clear('backlog drained');
      if (depth > 0 && earlier && before !== null && before > depth) {
        const perMs = (before - depth) / (Date.parse(latest.startedAt) - Date.parse(earlier.startedAt));
        const etaMs = depth / perMs;
        const target = human(etaMs / 6);
        const result = every(target, 30, `backlog ${depth}, empty in ~${Math.round(etaMs / MINUTE)} min`);
        if (etaMs < 30 * MINUTE) {
          const at = new Date(now + etaMs + 10_000).toISOString();
          result.calls.push({
            name: 'propose_next_time',
            args: {
              at,
              ttlMinutes: Math.ceil(etaMs / MINUTE) + 15,
              reason: 'check right after the predicted end',
            },
          });
        }
        return result;
      }
      if (depth > 0) return every(baseline, 30, `backlog ${depth} and growing: watch it`);
    }

    const recent = ctx.recentRuns
      .filter((run) => run.status === 'success')
      .slice(0, 5)
      .map((run) => run.durationMs);
    const dayP50 = ctx.health.latency24h.p50Ms;
    const recentP50 = recent.sort((a, b) => a - b)[Math.floor(recent.length / 2)];
    if (dayP50 && recentP50 > 2 * dayP50) return every(ceiling, 60, 'target is slow (busy): give it room');

    if (ctx.health.successRate1h === 1 && ctx.health.latency1h.runs >= 5) {
      return every(ceiling, 120, 'healthy for the last hour: poll at the maximum interval');
    }
    return { calls: [], summary: 'nothing to change' };
  }
}

interface Thought {
  calls: { name: string; args: Record<string, unknown> }[];
  summary: string;
}

function queueDepth(run: PlannerRun): number | null {
  const body = run.body;
  if (typeof body !== 'object' || body === null) return null;
  const value = (body as Record<string, unknown>).queue_depth;
  return typeof value === 'number' ? value : null;
}

/** The largest round interval not above `ms` (a model asks for 10 s, not 13,877 ms). */
function human(ms: number): number {
  return [...HUMAN_INTERVALS].reverse().find((value) => value <= ms) ?? HUMAN_INTERVALS[0];
}
