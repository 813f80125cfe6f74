import type { EndpointConfig, EventEnvelope } from '@cronicorn/events';
import type { PoolClient } from 'pg';
import { aggregateLock, EnvelopeOf, isEvent, Projection } from '../projection';
import type { EndpointConfigView, HintView } from './endpoints.queries';

const HINT_KIND_ORDER = ['interval', 'one_shot', 'pause'];

/** The configuration without the secret header values (ciphertexts): only their names. */
export function publicConfig(config: EndpointConfig): EndpointConfigView {
  const { secretHeaders, ...rest } = config;
  return { ...rest, secretHeaderNames: Object.keys(secretHeaders ?? {}).sort() };
}

// Failed or timed-out runs finished after `$since`: every run counts, whatever asked for it, as
// in the scheduler's streak (backoff, pauseAfterFailures). Cost grows with the streak
// (rm_runs_endpoint_streak_idx).
const STREAK_SINCE = (since: string) => `
  (SELECT count(*) FROM rm_runs r
    WHERE r.endpoint_id = $1 AND r.finished_at IS NOT NULL
      AND r.status IN ('failed', 'timeout') AND r.finished_at > COALESCE(${since}, '-infinity'::timestamptz))`;
const LAST_SUCCESS = `
  (SELECT max(finished_at) FROM rm_runs
    WHERE endpoint_id = $1 AND finished_at IS NOT NULL AND status = 'success')`;

// The run columns from rm_runs, creating the row if needed ($1 endpoint, $2 tenant, $3 job,
// $4 runs to add to the count).
const RECOMPUTE_RUNS = {
  name: 'rm.endpoints.recompute-runs',
  text: `
  WITH last AS (
    SELECT * FROM rm_runs WHERE endpoint_id = $1 ORDER BY started_at DESC, run_id DESC LIMIT 1
  ), success AS (SELECT ${LAST_SUCCESS} AS at)
  INSERT INTO rm_endpoints AS e (endpoint_id, tenant_id, job_id, runs_count, last_run_id, last_run_status,
                                 last_run_http_status, last_run_duration_ms, last_run_started_at,
                                 last_run_finished_at, last_success_at, failure_streak)
  SELECT $1, $2, $3, $4, last.run_id, last.status, last.http_status, last.duration_ms, last.started_at,
         last.finished_at, success.at, ${STREAK_SINCE('success.at')}
    FROM success LEFT JOIN last ON true
  ON CONFLICT (endpoint_id) DO UPDATE
    SET job_id = COALESCE(e.job_id, EXCLUDED.job_id), runs_count = e.runs_count + EXCLUDED.runs_count,
        last_run_id = EXCLUDED.last_run_id, last_run_status = EXCLUDED.last_run_status,
        last_run_http_status = EXCLUDED.last_run_http_status,
        last_run_duration_ms = EXCLUDED.last_run_duration_ms,
        last_run_started_at = EXCLUDED.last_run_started_at,
        last_run_finished_at = EXCLUDED.last_run_finished_at, last_success_at = EXCLUDED.last_success_at,
        failure_streak = CASE
          WHEN e.failures_reset_at IS NULL OR e.failures_reset_at <= EXCLUDED.last_success_at
            THEN EXCLUDED.failure_streak
          ELSE ${STREAK_SINCE('e.failures_reset_at')} END`,
};

// The planned run ($2) is no longer next: it began, or it was skipped or missed.
const CLEAR_NEXT_RUN = {
  name: 'rm.endpoints.clear-next-run',
  text: `UPDATE rm_endpoints SET next_run_id = NULL, next_run_at = NULL, next_run_reason = NULL,
          next_run_planned_at = NULL
    WHERE endpoint_id = $1 AND next_run_id = $2`,
};

// `r` is the run's rm_runs row as the runs projection left it, `e` the endpoint row before the event.
const COUNTED = `r.finished_at IS NOT NULL`;
const NEWEST = `(r.started_at, r.run_id) >= (e.last_run_started_at, e.last_run_id)`;

/**
 * The incremental form of {@link RECOMPUTE_RUNS}, for runs of distinct endpoints at once (`v`:
 * endpoint, run, job, runs to add); returns the endpoints it updated. An endpoint it leaves out
 * could not be shown equal to the recompute. The row already equals the recompute over the
 * runs before this event (every change to an endpoint's runs is projected here, in the same
 * transaction; resets recompute), and only this run's rm_runs row changed, so:
 * - the last run is this run if it now sorts at or after the row's last run, else unchanged;
 *   when it *is* the row's last run, its start must not have moved earlier (another run might
 *   then be newest);
 * - `runWasOpen` proves the run counted for nothing before (absent, or unfinished), so a
 *   failure adds one exactly when it finished after the streak's start, and a success sets
 *   the last success to the greater of the two;
 * - a success newer than the last success while the streak is above zero may end it or not,
 *   depending on failures that finished after it: only the recompute knows.
 */
function advanceRuns(name: string, runWasOpen: string): { name: string; text: string } {
  return {
    name,
    text: `
  UPDATE rm_endpoints AS e
     SET ${RUN_BEGAN('v.run_id')} job_id = COALESCE(e.job_id, v.job_id), runs_count = e.runs_count + v.added,
         last_run_id = CASE WHEN ${NEWEST} THEN r.run_id ELSE e.last_run_id END,
         last_run_status = CASE WHEN ${NEWEST} THEN r.status ELSE e.last_run_status END,
         last_run_http_status = CASE WHEN ${NEWEST} THEN r.http_status ELSE e.last_run_http_status END,
         last_run_duration_ms = CASE WHEN ${NEWEST} THEN r.duration_ms ELSE e.last_run_duration_ms END,
         last_run_started_at = CASE WHEN ${NEWEST} THEN r.started_at ELSE e.last_run_started_at END,
         last_run_finished_at = CASE WHEN ${NEWEST} THEN r.finished_at ELSE e.last_run_finished_at END,
         last_success_at = CASE WHEN ${COUNTED} AND r.status = 'success'
                             THEN GREATEST(e.last_success_at, r.finished_at) ELSE e.last_success_at END,
         failure_streak = CASE
           WHEN ${COUNTED} AND r.status IN ('failed', 'timeout')
                AND r.finished_at > COALESCE(GREATEST(e.last_success_at, e.failures_reset_at), '-infinity'::timestamptz)
             THEN e.failure_streak + 1
           ELSE e.failure_streak END
    FROM json_to_recordset($1::json) AS v (endpoint_id text, run_id text, job_id text, added integer)
    JOIN rm_runs AS r ON r.run_id = v.run_id AND r.endpoint_id = v.endpoint_id
   WHERE e.endpoint_id = v.endpoint_id
     AND e.last_run_id IS NOT NULL AND e.last_run_started_at IS NOT NULL
     AND (r.run_id <> e.last_run_id OR r.started_at >= e.last_run_started_at)
     AND ${runWasOpen}
     AND NOT (${COUNTED} AND r.status = 'success' AND e.failure_streak > 0
              AND r.finished_at > COALESCE(e.last_success_at, '-infinity'::timestamptz))
  RETURNING e.endpoint_id`,
  };
}

// The planned run has begun (or finished: a run event of it was applied): it is no longer "next". A recurring schedule has already planned
// its successor (appended when this run was handed out), so only a schedule that ended
// (one-time run, maxRuns, endAt) is left without a next run. `e` is the row before the update.
const RUN_BEGAN = (run: string) => `
  next_run_at = CASE WHEN e.next_run_id = ${run} THEN NULL ELSE e.next_run_at END,
  next_run_reason = CASE WHEN e.next_run_id = ${run} THEN NULL ELSE e.next_run_reason END,
  next_run_planned_at = CASE WHEN e.next_run_id = ${run} THEN NULL ELSE e.next_run_planned_at END,
  next_run_id = CASE WHEN e.next_run_id = ${run} THEN NULL ELSE e.next_run_id END,`;

// The runs projection never reopens a finished run, so a run still open after a start was
// absent or open before it. The same statement clears the next run when it is this one.
const ADVANCE_ON_START = advanceRuns('rm.endpoints.advance-start', 'r.finished_at IS NULL');
// A finish counted for nothing before if it is the run's first appearance (no earlier event of
// its stream was applied), or if the row's last run, a copy of its rm_runs row, is this run, open.
const ADVANCE_ON_FINISH = advanceRuns(
  'rm.endpoints.advance-finish',
  '(v.added = 1 OR (r.run_id = e.last_run_id AND e.last_run_finished_at IS NULL))',
);

// A plan applied after its run began (NATS lost it, the sweep found it) is no longer next: in
// log order its RunStarted would have cleared it. Plans of distinct endpoints at once.
const NEXT_RUN = {
  name: 'rm.endpoints.next-run',
  text: `INSERT INTO rm_endpoints AS e (endpoint_id, tenant_id, job_id, next_run_id, next_run_at, next_run_reason,
                                  next_run_planned_at)
   SELECT v.endpoint_id, v.tenant_id, v.job_id, CASE WHEN r.began THEN NULL ELSE v.run_id END,
          CASE WHEN r.began THEN NULL ELSE v.run_at END, CASE WHEN r.began THEN NULL ELSE v.reason END,
          CASE WHEN r.began THEN NULL ELSE v.planned_at END
     FROM json_to_recordset($1::json) AS v (endpoint_id text, tenant_id text, job_id text, run_id text,
          run_at timestamptz, reason text, planned_at timestamptz)
     -- A lookup per plan: as an EXISTS, the planner (guessing 100 plans) may hash all of rm_runs.
     LEFT JOIN LATERAL (SELECT true AS began FROM rm_runs WHERE run_id = v.run_id LIMIT 1) AS r ON true
   ON CONFLICT (endpoint_id) DO UPDATE
     SET job_id = COALESCE(e.job_id, EXCLUDED.job_id), next_run_id = EXCLUDED.next_run_id,
         next_run_at = EXCLUDED.next_run_at, next_run_reason = EXCLUDED.next_run_reason,
         next_run_planned_at = EXCLUDED.next_run_planned_at`,
};

/** Plans, starts and finishes of distinct endpoints, a statement per type; returns the other events. */
async function applyMany(envelopes: readonly EventEnvelope[], client: PoolClient): Promise<EventEnvelope[]> {
  const plans = envelopes.filter((e) => isEvent(e, 'NextRunPlanned'));
  if (plans.length > 0) {
    const rows = plans.map(({ tenantId, data: d }) => ({
      endpoint_id: d.endpointId,
      tenant_id: tenantId,
      job_id: d.jobId,
      run_id: d.runId,
      run_at: d.runAt,
      reason: d.reason,
      planned_at: d.plannedAt,
    }));
    await client.query({ ...NEXT_RUN, values: [JSON.stringify(rows)] });
  }
  const starts = envelopes.filter((e) => isEvent(e, 'RunStarted'));
  if (starts.length > 0) await advanceOrRecompute(ADVANCE_ON_START, starts, client);
  const finishes = envelopes.filter((e) => isEvent(e, 'RunFinished'));
  if (finishes.length > 0) await advanceOrRecompute(ADVANCE_ON_FINISH, finishes, client);
  return envelopes.filter(
    (e) => !isEvent(e, 'NextRunPlanned') && !isEvent(e, 'RunStarted') && !isEvent(e, 'RunFinished'),
  );
}

/**
 * Run events of distinct endpoints: the incremental update for all, then the recompute for
 * those it could not prove equal. The first event of a run stream is the run's first
 * appearance: it is counted once.
 */
async function advanceOrRecompute(
  advance: { name: string; text: string },
  runs: ReadonlyArray<EnvelopeOf<'RunStarted'> | EnvelopeOf<'RunFinished'>>,
  client: PoolClient,
): Promise<void> {
  const added = (envelope: EventEnvelope) => (envelope.streamVersion === 1 ? 1 : 0);
  const rows = runs.map((envelope) => ({
    endpoint_id: envelope.data.endpointId,
    run_id: envelope.data.runId,
    job_id: envelope.data.jobId,
    added: added(envelope),
  }));
  const { rows: advanced } = await client.query<{ endpoint_id: string }>({
    ...advance,
    values: [JSON.stringify(rows)],
  });
  const done = new Set(advanced.map((row) => row.endpoint_id));
  for (const envelope of runs) {
    const { endpointId, jobId, runId } = envelope.data;
    if (done.has(endpointId)) continue;
    await client.query({
      ...RECOMPUTE_RUNS,
      values: [endpointId, envelope.tenantId, jobId, added(envelope)],
    });
    await client.query({ ...CLEAR_NEXT_RUN, values: [endpointId, runId] });
  }
}

/**
 * `rm_endpoints`: the endpoint stream (config, pauses, hints, resets), the schedule stream
 * (next run), run streams (last run, runs count, failure streak) and the planner stream
 * (last analysis). Each stream arrives on its own, so every write is an upsert that creates
 * the row if needed; `created_at` stays null until `EndpointCreated`.
 *
 * The last run, last success and failure streak must equal what `rm_runs` (the runs
 * projection runs first, under the endpoint's aggregate lock) gives, in any arrival order:
 * the newest run by (started_at, run_id); the newest success; the failed or timed-out runs
 * finished after both that success and the last `FailuresReset` or `EndpointResumed`, as the
 * governor counts them. Trigger and retry runs count for neither the streak nor the success.
 *
 * A run event first tries the incremental update ({@link advanceRun}), from the row's own
 * columns and the run's `rm_runs` row: the common, in-order case of a run that starts and
 * then finishes while it is the newest. Whatever it cannot prove equal to the recompute (the
 * endpoint's first run, a success that may end a streak, the finish of a run that is no
 * longer the newest, a start moved earlier) falls back to the full recompute, whose cost
 * grows with the streak.
 */
export const endpointsProjection: Projection = {
  name: 'endpoints',
  handles: [
    'EndpointCreated',
    'EndpointUpdated',
    'EndpointPaused',
    'EndpointResumed',
    'EndpointArchived',
    'FailuresReset',
    'AIHintProposed',
    'AIHintsCleared',
    'NextRunPlanned',
    'RunSkipped',
    'RunMissed',
    'RunStarted',
    'RunFinished',
    'AIAnalysisCompleted',
    'AIAnalysisFailed',
  ],

  locks: (envelope) => [aggregateLock('endpoint', (envelope.data as { endpointId: string }).endpointId)],

  applyMany,

  async apply(envelope: EventEnvelope, client: PoolClient): Promise<void> {
    const tenantId = envelope.tenantId;
    if (
      isEvent(envelope, 'NextRunPlanned') ||
      isEvent(envelope, 'RunStarted') ||
      isEvent(envelope, 'RunFinished')
    ) {
      await applyMany([envelope], client);
    } else if (isEvent(envelope, 'EndpointCreated')) {
      const { endpointId, jobId, config, createdAt } = envelope.data;
      await client.query(
        `INSERT INTO rm_endpoints (endpoint_id, tenant_id, job_id, name, description, config, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $7)
         ON CONFLICT (endpoint_id) DO UPDATE
           SET job_id = EXCLUDED.job_id, name = EXCLUDED.name, description = EXCLUDED.description,
               config = EXCLUDED.config, status = EXCLUDED.status,
               created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
        [endpointId, tenantId, jobId, config.name, config.description, publicConfig(config), createdAt],
      );
    } else if (isEvent(envelope, 'EndpointUpdated')) {
      const { endpointId, config, updatedAt } = envelope.data;
      await client.query(
        `UPDATE rm_endpoints SET name = $2, description = $3, config = $4, updated_at = $5 WHERE endpoint_id = $1`,
        [endpointId, config.name, config.description, publicConfig(config), updatedAt],
      );
    } else if (isEvent(envelope, 'EndpointPaused')) {
      const { endpointId, until, reason, by, pausedAt } = envelope.data;
      await client.query(
        `UPDATE rm_endpoints
            SET status = 'paused', paused_until = $2, pause_reason = $3, paused_by = $4, paused_at = $5, updated_at = $5
          WHERE endpoint_id = $1 AND status <> 'archived'`,
        [endpointId, until, reason, by, pausedAt],
      );
    } else if (isEvent(envelope, 'EndpointResumed')) {
      const { endpointId, resumedAt } = envelope.data;
      await client.query(
        `UPDATE rm_endpoints
            SET status = 'active', paused_until = NULL, pause_reason = NULL, paused_by = NULL, paused_at = NULL,
                updated_at = $2, failures_reset_at = GREATEST(failures_reset_at, $2::timestamptz),
                failure_streak = ${STREAK_SINCE(`GREATEST(${LAST_SUCCESS}, failures_reset_at, $2::timestamptz)`)}
          WHERE endpoint_id = $1 AND status = 'paused'`,
        [endpointId, resumedAt],
      );
    } else if (isEvent(envelope, 'EndpointArchived')) {
      const { endpointId, archivedAt } = envelope.data;
      await client.query(
        `UPDATE rm_endpoints
            SET status = 'archived', archived_at = $2, updated_at = $2,
                paused_until = NULL, pause_reason = NULL, paused_by = NULL, paused_at = NULL
          WHERE endpoint_id = $1`,
        [endpointId, archivedAt],
      );
    } else if (isEvent(envelope, 'FailuresReset')) {
      const { endpointId, resetAt } = envelope.data;
      await client.query(
        `UPDATE rm_endpoints
            SET failures_reset_at = GREATEST(failures_reset_at, $2::timestamptz),
                failure_streak = ${STREAK_SINCE(`GREATEST(${LAST_SUCCESS}, failures_reset_at, $2::timestamptz)`)}
          WHERE endpoint_id = $1`,
        [endpointId, resetAt],
      );
    } else if (isEvent(envelope, 'AIHintProposed')) {
      const { endpointId, hintId, kind, value, requested, expiresAt, reason, source, model, proposedAt } =
        envelope.data;
      const hint: HintView = { hintId, kind, value, requested, expiresAt, reason, source, model, proposedAt };
      // One hint per kind, the newest, kept in kind order.
      await client.query(
        `UPDATE rm_endpoints
            SET hints = (SELECT COALESCE(jsonb_agg(h ORDER BY array_position($3::text[], h->>'kind')), '[]'::jsonb)
                           FROM (SELECT h FROM jsonb_array_elements(hints) AS h WHERE h->>'kind' <> $4
                                 UNION ALL SELECT $2::jsonb) AS x(h))
          WHERE endpoint_id = $1`,
        [endpointId, hint, HINT_KIND_ORDER, kind],
      );
    } else if (isEvent(envelope, 'AIHintsCleared')) {
      await client.query(`UPDATE rm_endpoints SET hints = '[]'::jsonb WHERE endpoint_id = $1`, [
        envelope.data.endpointId,
      ]);
    } else if (isEvent(envelope, 'RunSkipped') || isEvent(envelope, 'RunMissed')) {
      // The planned run was skipped (overlap policy) or handed out and not started in time: it
      // is no longer next. A recurring schedule has planned its successor (in the same
      // transaction, or when the run was handed out); a schedule that ended with it (a one-time
      // run, maxRuns, endAt) plans nothing more.
      const { endpointId, runId } = envelope.data;
      if (runId === null) return;
      await client.query({ ...CLEAR_NEXT_RUN, values: [endpointId, runId] });
    } else if (isEvent(envelope, 'AIAnalysisCompleted')) {
      const { endpointId, analysisId, analyzedAt, planner, model } = envelope.data;
      await recordAnalysis(client, [
        endpointId,
        tenantId,
        analysisId,
        'completed',
        analyzedAt,
        planner,
        model,
      ]);
    } else if (isEvent(envelope, 'AIAnalysisFailed')) {
      const { endpointId, analysisId, failedAt, model } = envelope.data;
      // Only LLM analyses fail; the heuristic planner has no failure mode.
      await recordAnalysis(client, [endpointId, tenantId, analysisId, 'failed', failedAt, 'ai', model]);
    }
  },
};

async function recordAnalysis(
  client: PoolClient,
  row: [string, string, string, 'completed' | 'failed', string, 'ai' | 'heuristic', string],
): Promise<void> {
  await client.query(
    `INSERT INTO rm_endpoints AS e (endpoint_id, tenant_id, last_analysis_id, last_analysis_status, last_analysis_at,
                                    planner, planner_model)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (endpoint_id) DO UPDATE
       SET last_analysis_id = EXCLUDED.last_analysis_id, last_analysis_status = EXCLUDED.last_analysis_status,
           last_analysis_at = EXCLUDED.last_analysis_at, planner = EXCLUDED.planner,
           planner_model = EXCLUDED.planner_model`,
    row,
  );
}
