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

  // Additions commute: a batch's events are summed per hour and written in one statement.
  async applyBatch(envelopes: readonly EventEnvelope[], client: PoolClient): Promise<void> {
    const hours = new Map<string, HourTotals>();
    for (const envelope of envelopes) {
      const delta = deltaOf(envelope);
      if (!delta) continue;
      const key = `${delta.tenantId} ${delta.endpointId} ${hourStart(delta.at)}`;
      const totals = hours.get(key) ?? emptyHour(delta);
      hours.set(key, totals);
      addDelta(totals, delta);
    }
    if (hours.size > 0) await addToHours(client, [...hours.values()]);
    for (const envelope of envelopes) {
      if (!isEvent(envelope, 'EndpointCreated')) continue;
      // Hours recorded before the endpoint itself was projected learn their job now.
      await client.query(
        'UPDATE rm_run_stats_hourly SET job_id = $2 WHERE endpoint_id = $1 AND job_id IS NULL',
        [envelope.data.endpointId, envelope.data.jobId],
      );
    }
  },
};

/** What one event adds to its hour, or null for an event that adds nothing. */
function deltaOf(envelope: EventEnvelope): HourDelta | null {
  const tenantId = envelope.tenantId;
  if (isEvent(envelope, 'RunFinished')) {
    const d = envelope.data;
    return {
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
    };
  }
  if (isEvent(envelope, 'RunMissed')) {
    const d = envelope.data;
    return { tenantId, endpointId: d.endpointId, jobId: null, at: d.scheduledFor, missed: 1 };
  }
  if (isEvent(envelope, 'RunSkipped')) {
    const d = envelope.data;
    return {
      tenantId,
      endpointId: d.endpointId,
      jobId: null,
      at: d.scheduledFor,
      skipped: Math.max(1, d.count),
    };
  }
  if (isEvent(envelope, 'AIAnalysisCompleted')) {
    const d = envelope.data;
    return {
      tenantId,
      endpointId: d.endpointId,
      jobId: null,
      at: d.analyzedAt,
      analyses: 1,
      tokensIn: d.tokensIn,
      tokensOut: d.tokensOut,
    };
  }
  if (isEvent(envelope, 'AIAnalysisFailed')) {
    const d = envelope.data;
    return {
      tenantId,
      endpointId: d.endpointId,
      jobId: null,
      at: d.failedAt,
      analysesFailed: 1,
      tokensIn: d.tokensIn ?? 0,
      tokensOut: d.tokensOut ?? 0,
    };
  }
  return null;
}

/** One sample series of an hour (latency or lateness). */
interface Samples {
  count: number;
  sumMs: number;
  minMs: number | null;
  maxMs: number | null;
  buckets: number[];
}

/** The sum of a batch's deltas for one hour of one endpoint. */
interface HourTotals {
  tenantId: string;
  endpointId: string;
  hourStart: string;
  jobId: string | null;
  success: number;
  failed: number;
  timeout: number;
  missed: number;
  skipped: number;
  latency: Samples;
  lateness: Samples;
  analyses: number;
  analysesFailed: number;
  tokensIn: number;
  tokensOut: number;
}

const noSamples = (): Samples => ({
  count: 0,
  sumMs: 0,
  minMs: null,
  maxMs: null,
  buckets: new Array<number>(BUCKET_COUNT).fill(0),
});

function addSample(samples: Samples, ms: number | undefined): void {
  if (ms === undefined) return;
  samples.count += 1;
  samples.sumMs += ms;
  samples.minMs = samples.minMs === null ? ms : Math.min(samples.minMs, ms);
  samples.maxMs = samples.maxMs === null ? ms : Math.max(samples.maxMs, ms);
  samples.buckets[bucketIndex(ms)] += 1;
}

function emptyHour(delta: HourDelta): HourTotals {
  return {
    tenantId: delta.tenantId,
    endpointId: delta.endpointId,
    hourStart: hourStart(delta.at),
    jobId: null,
    success: 0,
    failed: 0,
    timeout: 0,
    missed: 0,
    skipped: 0,
    latency: noSamples(),
    lateness: noSamples(),
    analyses: 0,
    analysesFailed: 0,
    tokensIn: 0,
    tokensOut: 0,
  };
}

function addDelta(totals: HourTotals, delta: HourDelta): void {
  totals.jobId ??= delta.jobId;
  totals.success += delta.success ?? 0;
  totals.failed += delta.failed ?? 0;
  totals.timeout += delta.timeout ?? 0;
  totals.missed += delta.missed ?? 0;
  totals.skipped += delta.skipped ?? 0;
  addSample(totals.latency, delta.latencyMs);
  addSample(totals.lateness, delta.latenessMs);
  totals.analyses += delta.analyses ?? 0;
  totals.analysesFailed += delta.analysesFailed ?? 0;
  totals.tokensIn += delta.tokensIn ?? 0;
  totals.tokensOut += delta.tokensOut ?? 0;
}

// Element-wise sum of two histograms (a shorter one counts as zeros past its end).
const ADD_BUCKETS = (a: string, b: string) =>
  `(SELECT array_agg(COALESCE(x, 0) + COALESCE(y, 0) ORDER BY i) FROM unnest(${a}, ${b}) WITH ORDINALITY AS h (x, y, i))`;

/** Adds each hour's totals to its row, creating the rows as needed, in one statement. */
async function addToHours(client: PoolClient, hours: readonly HourTotals[]): Promise<void> {
  const column = <T>(pick: (h: HourTotals) => T): T[] => hours.map(pick);
  const histogram = (samples: Samples) => `{${samples.buckets.join(',')}}`;
  await client.query({
    name: 'rm.stats.add-to-hours',
    text: `INSERT INTO rm_run_stats_hourly AS s (
       tenant_id, endpoint_id, hour_start, job_id,
       runs_success, runs_failed, runs_timeout, runs_missed, runs_skipped,
       latency_count, latency_sum_ms, latency_min_ms, latency_max_ms, latency_buckets,
       lateness_count, lateness_sum_ms, lateness_min_ms, lateness_max_ms, lateness_buckets,
       ai_analyses, ai_failed, ai_tokens_in, ai_tokens_out)
     SELECT d.tenant_id, d.endpoint_id, d.hour_start,
            COALESCE(d.job_id, (SELECT e.job_id FROM rm_endpoints e WHERE e.endpoint_id = d.endpoint_id)),
            d.success, d.failed, d.timeout, d.missed, d.skipped,
            d.latency_count, d.latency_sum, d.latency_min, d.latency_max, d.latency_buckets::int[],
            d.lateness_count, d.lateness_sum, d.lateness_min, d.lateness_max, d.lateness_buckets::int[],
            d.analyses, d.analyses_failed, d.tokens_in, d.tokens_out
       FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[],
                   $5::int[], $6::int[], $7::int[], $8::int[], $9::int[],
                   $10::int[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[],
                   $15::int[], $16::bigint[], $17::bigint[], $18::bigint[], $19::text[],
                   $20::int[], $21::int[], $22::bigint[], $23::bigint[])
            AS d (tenant_id, endpoint_id, hour_start, job_id,
                  success, failed, timeout, missed, skipped,
                  latency_count, latency_sum, latency_min, latency_max, latency_buckets,
                  lateness_count, lateness_sum, lateness_min, lateness_max, lateness_buckets,
                  analyses, analyses_failed, tokens_in, tokens_out)
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
           latency_buckets = ${ADD_BUCKETS('s.latency_buckets', 'EXCLUDED.latency_buckets')},
           lateness_count = s.lateness_count + EXCLUDED.lateness_count,
           lateness_sum_ms = s.lateness_sum_ms + EXCLUDED.lateness_sum_ms,
           lateness_min_ms = LEAST(s.lateness_min_ms, EXCLUDED.lateness_min_ms),
           lateness_max_ms = GREATEST(s.lateness_max_ms, EXCLUDED.lateness_max_ms),
           lateness_buckets = ${ADD_BUCKETS('s.lateness_buckets', 'EXCLUDED.lateness_buckets')},
           ai_analyses = s.ai_analyses + EXCLUDED.ai_analyses,
           ai_failed = s.ai_failed + EXCLUDED.ai_failed,
           ai_tokens_in = s.ai_tokens_in + EXCLUDED.ai_tokens_in,
           ai_tokens_out = s.ai_tokens_out + EXCLUDED.ai_tokens_out`,
    values: [
      column((h) => h.tenantId),
      column((h) => h.endpointId),
      column((h) => h.hourStart),
      column((h) => h.jobId),
      column((h) => h.success),
      column((h) => h.failed),
      column((h) => h.timeout),
      column((h) => h.missed),
      column((h) => h.skipped),
      column((h) => h.latency.count),
      column((h) => h.latency.sumMs),
      column((h) => h.latency.minMs),
      column((h) => h.latency.maxMs),
      column((h) => histogram(h.latency)),
      column((h) => h.lateness.count),
      column((h) => h.lateness.sumMs),
      column((h) => h.lateness.minMs),
      column((h) => h.lateness.maxMs),
      column((h) => histogram(h.lateness)),
      column((h) => h.analyses),
      column((h) => h.analysesFailed),
      column((h) => h.tokensIn),
      column((h) => h.tokensOut),
    ],
  });
}
