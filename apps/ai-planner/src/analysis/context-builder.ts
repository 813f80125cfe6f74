import type { Pool } from 'pg';
import { RunFinished } from '@cronicorn/events';
import {
  activeHints,
  EndpointState,
  PlannerContext,
  PlannerHealth,
  plannerHealth,
  PlannerRun,
  PlannerSibling,
  toPlannerRun,
} from '@cronicorn/domain';
import {
  EndpointHealth,
  endpointHealth,
  EndpointView,
  getEndpoint,
  HealthWindow,
  listEndpoints,
  listRuns,
  RunView,
} from '@cronicorn/read-models';

type LiveEndpoint = Extract<EndpointState, { status: 'active' | 'paused' }>;

export interface ContextLimits {
  /** Newest runs read. */
  runs: number;
  siblings: number;
}

export const DEFAULT_CONTEXT_LIMITS: ContextLimits = { runs: 20, siblings: 20 };

/**
 * Builds what a planner sees (DESIGN §7). Configuration and hints come from the endpoint
 * stream (the truth, just read); runs, health, siblings and the next plan from the read
 * models, which may lag the log by a moment: a planner sees the latest projected state.
 * `fallbackStreak` is the queue's own count, used while the read model lacks the endpoint.
 */
export class ContextBuilder {
  constructor(
    private readonly pool: Pool,
    private readonly limits: ContextLimits = DEFAULT_CONTEXT_LIMITS,
  ) {}

  async build(
    tenantId: string,
    endpoint: LiveEndpoint,
    now: Date,
    fallbackStreak: number,
  ): Promise<PlannerContext> {
    const { endpointId, jobId, config } = endpoint;
    const [view, runs, health, siblings] = await Promise.all([
      getEndpoint(this.pool, tenantId, endpointId, { now }),
      listRuns(this.pool, tenantId, endpointId, { limit: this.limits.runs }),
      endpointHealth(this.pool, tenantId, endpointId, { now }),
      listEndpoints(this.pool, tenantId, { jobId, limit: this.limits.siblings + 1, now }),
    ]);
    const recentRuns = runs.items.flatMap((run) => (run.status === 'running' ? [] : [plannerRunOf(run)]));
    const failureStreak = view?.failureStreak ?? fallbackStreak;
    return {
      endpointId,
      jobId,
      name: config.name,
      description: config.description,
      request: { method: config.method, url: config.url },
      schedule: config.schedule,
      bounds: {
        minIntervalMs: config.minIntervalMs,
        maxIntervalMs: config.maxIntervalMs,
        startAt: config.startAt,
        endAt: config.endAt,
        pauseAfterFailures: config.pauseAfterFailures,
      },
      activeHints: activeHints(endpoint, now),
      siblings: siblings.items
        .filter((sibling) => sibling.id !== endpointId)
        .slice(0, this.limits.siblings)
        .map(siblingOf),
      recentRuns,
      health: health ? healthOf(health) : plannerHealth(recentRuns, failureStreak, now),
      nextRunAt: view?.nextRun?.at ?? null,
      now: now.toISOString(),
    };
  }
}

function plannerRunOf(run: RunView): PlannerRun {
  const data: RunFinished['data'] = {
    runId: run.id,
    endpointId: run.endpointId,
    jobId: run.jobId,
    status: run.status === 'running' ? 'failed' : run.status,
    httpStatus: run.httpStatus,
    durationMs: run.durationMs ?? 0,
    attempts: run.attempts ?? 1,
    error: run.error,
    response: run.response,
    retryAfterMs: run.retryAfterMs,
    scheduledFor: run.scheduledFor,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt ?? run.startedAt,
    trigger: run.trigger,
    retryOf: run.retryOf,
  };
  return toPlannerRun(data);
}

function siblingOf(view: EndpointView): PlannerSibling {
  const last = view.lastRun && view.lastRun.status !== 'running' ? view.lastRun : null;
  return {
    endpointId: view.id,
    name: view.name,
    description: view.description,
    lastStatus: last?.status === 'running' ? null : (last?.status ?? null),
    lastHttpStatus: last?.httpStatus ?? null,
    lastFinishedAt: last?.finishedAt ?? null,
  };
}

function healthOf(health: EndpointHealth): PlannerHealth {
  const window = (w: HealthWindow) => ({
    runs: w.runs.total,
    p50Ms: w.latencyMs.p50,
    p95Ms: w.latencyMs.p95,
  });
  return {
    failureStreak: health.failureStreak,
    successRate1h: health.lastHour.successRate,
    successRate24h: health.lastDay.successRate,
    latency1h: window(health.lastHour),
    latency24h: window(health.lastDay),
  };
}
