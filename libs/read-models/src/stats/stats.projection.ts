import type { EventEnvelope } from '@cronicorn/events';
import type { PoolClient } from 'pg';
import { aggregateLock, isEvent, Projection } from '../projection';
import { hourStart } from '../sql';
import { BUCKET_COUNT, bucketIndex } from './histogram';

/** What one event adds to one hour of one endpoint. */
interface HourDelta {
  tenantId: string;
  endpointId: string;
  /** Null when the event does not say: taken from rm_endpoints, or filled by EndpointCreated later. */
  jobId: string | null;
  /** The instant whose UTC hour the event counts in. */
  at: string;
  success?: number;
  failed?: number;
  timeout?: number;
  missed?: number;
  skipped?: number;
  latencyMs?: number;
  latenessMs?: number;
  analyses?: number;
  analysesFailed?: number;
  tokensIn?: number;
  tokensOut?: number;
}

/**
 * `rm_run_stats_hourly`: per tenant, endpoint and UTC hour, finished runs by status (in the
 * hour they started), latency of every finished run, lateness of scheduled runs (manual,
 * trigger and retry runs are late by definition of nothing), missed and skipped plans (in
 * the hour they were due) and AI analyses with their tokens.
 */
export const statsProjection: Projection = {
  name: 'stats',
  handles: [
    'RunFinished',
    'RunMissed',
    'RunSkipped',
    'AIAnalysisCompleted',
    'AIAnalysisFailed',
    'EndpointCreated',
  ],

  // The job of an event without one comes from rm_endpoints: wait for a concurrent EndpointCreated.
  locks: (envelope) =>
    isEvent(envelope, 'RunFinished')
      ? []
      : [aggregateLock('endpoint', (envelope.data as { endpointId: string }).endpointId)],

  async apply(envelope: EventEnvelope, client: PoolClient): Promise<void> {
    const tenantId = envelope.tenantId;
    if (isEvent(envelope, 'RunFinished')) {
      const d = envelope.data;
      await addToHour(client, {
        tenantId,
        endpointId: d.endpointId,
        jobId: d.jobId,
        at: d.startedAt,
        success: d.status === 'success' ? 1 : 0,
        failed: d.status === 'failed' ? 1 : 0,
        timeout: d.status === 'timeout' ? 1 : 0,
        latencyMs: Math.max(0, Math.round(d.durationMs)),
        latenessMs:
          d.trigger === 'schedule'
            ? Math.max(0, Date.parse(d.startedAt) - Date.parse(d.scheduledFor))
            : undefined,
      });
    } else if (isEvent(envelope, 'RunMissed')) {
      const d = envelope.data;
      await addToHour(client, {
        tenantId,
        endpointId: d.endpointId,
        jobId: null,
        at: d.scheduledFor,
        missed: 1,
      });
    } else if (isEvent(envelope, 'RunSkipped')) {
      const d = envelope.data;
      await addToHour(client, {
        tenantId,
        endpointId: d.endpointId,
        jobId: null,
        at: d.scheduledFor,
        skipped: Math.max(1, d.count),
      });
    } else if (isEvent(envelope, 'AIAnalysisCompleted')) {
      const d = envelope.data;
      await addToHour(client, {
        tenantId,
        endpointId: d.endpointId,
        jobId: null,
        at: d.analyzedAt,
        analyses: 1,
        tokensIn: d.tokensIn,
        tokensOut: d.tokensOut,
      });
    } else if (isEvent(envelope, 'AIAnalysisFailed')) {
      const d = envelope.data;
      await addToHour(client, {
        tenantId,
        endpointId: d.endpointId,
        jobId: null,
        at: d.failedAt,
        analysesFailed: 1,
      });
    } else if (isEvent(envelope, 'EndpointCreated')) {
      // Hours recorded before the endpoint itself was projected learn their job now.
      await client.query(
        'UPDATE rm_run_stats_hourly SET job_id = $2 WHERE endpoint_id = $1 AND job_id IS NULL',
        [envelope.data.endpointId, envelope.data.jobId],
      );
    }
  },
};

/** A histogram with one sample in it, or all zeros. */
function oneSample(ms: number | undefined): number[] {
  const buckets = new Array<number>(BUCKET_COUNT).fill(0);
  if (ms !== undefined) buckets[bucketIndex(ms)] = 1;
  return buckets;
}

/** Adds the delta to its hour's row in one statement, creating the row if needed. */
async function addToHour(client: PoolClient, delta: HourDelta): Promise<void> {
  const { latencyMs, latenessMs } = delta;
  await client.query({
    name: 'rm.stats.add-to-hour',
    text: `INSERT INTO rm_run_stats_hourly AS s (
       tenant_id, endpoint_id, hour_start, job_id,
       runs_success, runs_failed, runs_timeout, runs_missed, runs_skipped,
       latency_count, latency_sum_ms, latency_min_ms, latency_max_ms, latency_buckets,
       lateness_count, lateness_sum_ms, lateness_min_ms, lateness_max_ms, lateness_buckets,
       ai_analyses, ai_failed, ai_tokens_in, ai_tokens_out)
     VALUES ($1, $2, $3, COALESCE($4, (SELECT job_id FROM rm_endpoints WHERE endpoint_id = $2)),
             $5, $6, $7, $8, $9,
             $10, COALESCE($11::bigint, 0), $11, $11, $12::int[],
             $13, COALESCE($14::bigint, 0), $14, $14, $15::int[],
             $16, $17, $18, $19)
     ON CONFLICT (tenant_id, endpoint_id, hour_start) DO UPDATE
       SET job_id = COALESCE(s.job_id, EXCLUDED.job_id),
           runs_success = s.runs_success + EXCLUDED.runs_success,
           runs_failed = s.runs_failed + EXCLUDED.runs_failed,
           runs_timeout = s.runs_timeout + EXCLUDED.runs_timeout,
           runs_missed = s.runs_missed + EXCLUDED.runs_missed,
           runs_skipped = s.runs_skipped + EXCLUDED.runs_skipped,
           latency_count = s.latency_count + EXCLUDED.latency_count,
           latency_sum_ms = s.latency_sum_ms + EXCLUDED.latency_sum_ms,
           latency_min_ms = LEAST(s.latency_min_ms, EXCLUDED.latency_min_ms),
           latency_max_ms = GREATEST(s.latency_max_ms, EXCLUDED.latency_max_ms),
           latency_buckets[$20::int] = s.latency_buckets[$20::int] + EXCLUDED.latency_count,
           lateness_count = s.lateness_count + EXCLUDED.lateness_count,
           lateness_sum_ms = s.lateness_sum_ms + EXCLUDED.lateness_sum_ms,
           lateness_min_ms = LEAST(s.lateness_min_ms, EXCLUDED.lateness_min_ms),
           lateness_max_ms = GREATEST(s.lateness_max_ms, EXCLUDED.lateness_max_ms),
           lateness_buckets[$21::int] = s.lateness_buckets[$21::int] + EXCLUDED.lateness_count,
           ai_analyses = s.ai_analyses + EXCLUDED.ai_analyses,
           ai_failed = s.ai_failed + EXCLUDED.ai_failed,
           ai_tokens_in = s.ai_tokens_in + EXCLUDED.ai_tokens_in,
           ai_tokens_out = s.ai_tokens_out + EXCLUDED.ai_tokens_out`,
    values: [
      delta.tenantId,
      delta.endpointId,
      hourStart(delta.at),
      delta.jobId,
      delta.success ?? 0,
      delta.failed ?? 0,
      delta.timeout ?? 0,
      delta.missed ?? 0,
      delta.skipped ?? 0,
      latencyMs === undefined ? 0 : 1,
      latencyMs ?? null,
      oneSample(latencyMs),
      latenessMs === undefined ? 0 : 1,
      latenessMs ?? null,
      oneSample(latenessMs),
      delta.analyses ?? 0,
      delta.analysesFailed ?? 0,
      delta.tokensIn ?? 0,
      delta.tokensOut ?? 0,
      latencyMs === undefined ? 1 : bucketIndex(latencyMs) + 1,
      latenessMs === undefined ? 1 : bucketIndex(latenessMs) + 1,
    ],
  });
}
