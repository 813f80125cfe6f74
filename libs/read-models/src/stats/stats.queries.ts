import { Queryable } from '../projection';
import { hourStart, num } from '../sql';
import { BUCKET_COUNT, DistributionSummary, summarize } from './histogram';

/**
 * Run statistics over whole UTC hours: every hour that overlaps [from, to). `from` and `to`
 * in the answer are the hour bounds actually covered.
 */
export interface RunStats {
  from: string;
  to: string;
  runs: {
    /** Finished runs: success + failed + timeout. */
    total: number;
    success: number;
    failed: number;
    timeout: number;
    /** Plans not started within their lateness budget (not runs). */
    missed: number;
    /** Plans skipped by the overlap or catch-up policy (not runs). */
    skipped: number;
  };
  /** success / total; null without finished runs. */
  successRate: number | null;
  /** Duration of finished runs, in ms. */
  latencyMs: DistributionSummary;
  /** startedAt − scheduledFor of finished scheduled runs, in ms (manual and trigger runs have none). */
  latenessMs: DistributionSummary;
  ai: { analyses: number; failed: number; tokensIn: number; tokensOut: number };
}

/** One window of `EndpointHealth`. */
export interface HealthWindow {
  from: string;
  to: string;
  runs: { total: number; success: number; failed: number; timeout: number };
  successRate: number | null;
  latencyMs: Pick<DistributionSummary, 'p50' | 'p95' | 'p99'>;
}

/**
 * An endpoint's health for the API and the AI planner. `lastHour` covers the current and the
 * previous UTC hour, `lastDay` the last 24 whole hours plus the current one.
 */
export interface EndpointHealth {
  endpointId: string;
  failureStreak: number;
  lastHour: HealthWindow;
  lastDay: HealthWindow;
}

interface Scope {
  tenantId: string;
  jobId?: string;
  endpointId?: string;
  from: string;
  to: string;
}

interface TotalsRow {
  success: string;
  failed: string;
  timeout: string;
  missed: string;
  skipped: string;
  latency_count: string;
  latency_sum: string;
  latency_min: string | null;
  latency_max: string | null;
  lateness_count: string;
  lateness_sum: string;
  lateness_min: string | null;
  lateness_max: string | null;
  ai_analyses: string;
  ai_failed: string;
  ai_tokens_in: string;
  ai_tokens_out: string;
}

const WHERE = `tenant_id = $1 AND hour_start >= $2 AND hour_start < $3
               AND ($4::text IS NULL OR job_id = $4) AND ($5::text IS NULL OR endpoint_id = $5)`;

function windowOf(from: Date, to: Date): { from: string; to: string } {
  const start = hourStart(from.toISOString());
  const lastHour = hourStart(new Date(to.getTime() - 1).toISOString());
  const end = new Date(Date.parse(lastHour) + 3_600_000).toISOString();
  return { from: start, to: Date.parse(end) > Date.parse(start) ? end : start };
}

async function aggregate(db: Queryable, scope: Scope): Promise<RunStats> {
  const params = [scope.tenantId, scope.from, scope.to, scope.jobId ?? null, scope.endpointId ?? null];
  const [{ rows: totals }, { rows: buckets }] = await Promise.all([
    db.query<TotalsRow>(
      `SELECT COALESCE(sum(runs_success), 0) AS success, COALESCE(sum(runs_failed), 0) AS failed,
              COALESCE(sum(runs_timeout), 0) AS timeout, COALESCE(sum(runs_missed), 0) AS missed,
              COALESCE(sum(runs_skipped), 0) AS skipped,
              COALESCE(sum(latency_count), 0) AS latency_count, COALESCE(sum(latency_sum_ms), 0) AS latency_sum,
              min(latency_min_ms) AS latency_min, max(latency_max_ms) AS latency_max,
              COALESCE(sum(lateness_count), 0) AS lateness_count, COALESCE(sum(lateness_sum_ms), 0) AS lateness_sum,
              min(lateness_min_ms) AS lateness_min, max(lateness_max_ms) AS lateness_max,
              COALESCE(sum(ai_analyses), 0) AS ai_analyses, COALESCE(sum(ai_failed), 0) AS ai_failed,
              COALESCE(sum(ai_tokens_in), 0) AS ai_tokens_in, COALESCE(sum(ai_tokens_out), 0) AS ai_tokens_out
         FROM rm_run_stats_hourly WHERE ${WHERE}`,
      params,
    ),
    db.query<{ kind: 'latency' | 'lateness'; i: string; n: string }>(
      `SELECT 'latency' AS kind, u.i, sum(u.n) AS n
         FROM rm_run_stats_hourly s, unnest(s.latency_buckets) WITH ORDINALITY AS u(n, i)
        WHERE ${WHERE} AND u.n > 0 GROUP BY u.i
       UNION ALL
       SELECT 'lateness' AS kind, u.i, sum(u.n) AS n
         FROM rm_run_stats_hourly s, unnest(s.lateness_buckets) WITH ORDINALITY AS u(n, i)
        WHERE ${WHERE} AND u.n > 0 GROUP BY u.i`,
      params,
    ),
  ]);
  const t = totals[0];
  const histogram = {
    latency: new Array<number>(BUCKET_COUNT).fill(0),
    lateness: new Array<number>(BUCKET_COUNT).fill(0),
  };
  for (const row of buckets) histogram[row.kind][Number(row.i) - 1] = Number(row.n);
  const success = Number(t.success);
  const total = success + Number(t.failed) + Number(t.timeout);
  return {
    from: scope.from,
    to: scope.to,
    runs: {
      total,
      success,
      failed: Number(t.failed),
      timeout: Number(t.timeout),
      missed: Number(t.missed),
      skipped: Number(t.skipped),
    },
    successRate: total === 0 ? null : success / total,
    latencyMs: summarize({
      count: Number(t.latency_count),
      sum: Number(t.latency_sum),
      min: num(t.latency_min),
      max: num(t.latency_max),
      buckets: histogram.latency,
    }),
    latenessMs: summarize({
      count: Number(t.lateness_count),
      sum: Number(t.lateness_sum),
      min: num(t.lateness_min),
      max: num(t.lateness_max),
      buckets: histogram.lateness,
    }),
    ai: {
      analyses: Number(t.ai_analyses),
      failed: Number(t.ai_failed),
      tokensIn: Number(t.ai_tokens_in),
      tokensOut: Number(t.ai_tokens_out),
    },
  };
}

/** The tenant's statistics over the hours overlapping [from, to) (`GET /v1/stats`). */
export function tenantStats(db: Queryable, tenantId: string, from: Date, to: Date): Promise<RunStats> {
  return aggregate(db, { tenantId, ...windowOf(from, to) });
}

/**
 * One job's statistics (`GET /v1/jobs/:id/stats`); zeros for another tenant's job, so check
 * the job with `getJob` first to answer 404.
 */
export function jobStats(
  db: Queryable,
  tenantId: string,
  jobId: string,
  from: Date,
  to: Date,
): Promise<RunStats> {
  return aggregate(db, { tenantId, jobId, ...windowOf(from, to) });
}

/** One endpoint's statistics over the hours overlapping [from, to). */
export function endpointStats(
  db: Queryable,
  tenantId: string,
  endpointId: string,
  from: Date,
  to: Date,
): Promise<RunStats> {
  return aggregate(db, { tenantId, endpointId, ...windowOf(from, to) });
}

function healthWindow(stats: RunStats): HealthWindow {
  const { total, success, failed, timeout } = stats.runs;
  const { p50, p95, p99 } = stats.latencyMs;
  return {
    from: stats.from,
    to: stats.to,
    runs: { total, success, failed, timeout },
    successRate: stats.successRate,
    latencyMs: { p50, p95, p99 },
  };
}

/** The endpoint's health; null for an unknown endpoint or another tenant's. */
export async function endpointHealth(
  db: Queryable,
  tenantId: string,
  endpointId: string,
  options: { now?: Date } = {},
): Promise<EndpointHealth | null> {
  const now = options.now ?? new Date();
  const { rows } = await db.query<{ failure_streak: number }>(
    'SELECT failure_streak FROM rm_endpoints WHERE tenant_id = $1 AND endpoint_id = $2 AND created_at IS NOT NULL',
    [tenantId, endpointId],
  );
  if (rows.length === 0) return null;
  const hour = 3_600_000;
  const [lastHour, lastDay] = await Promise.all([
    endpointStats(db, tenantId, endpointId, new Date(now.getTime() - hour), now),
    endpointStats(db, tenantId, endpointId, new Date(now.getTime() - 24 * hour), now),
  ]);
  return {
    endpointId,
    failureStreak: rows[0].failure_streak,
    lastHour: healthWindow(lastHour),
    lastDay: healthWindow(lastDay),
  };
}
