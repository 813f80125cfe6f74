import type { Pool, PoolClient } from 'pg';
import { EndpointConfig, RunTrigger } from '@cronicorn/events';
import { GovernorHint } from '@cronicorn/domain';
import { inLockOrder } from '@cronicorn/messaging';
import { HandOut } from './schedule.decisions';
import {
  EndpointResult,
  EndpointRow,
  JobRow,
  LastFinished,
  OpenRuns,
  ScheduleStatus,
} from './schedule.model';

// SQL on the scheduler's tables (migrations 0030_scheduler, 0032_scheduler_endpoint_results).
// Every function runs on the caller's transaction. Lock order, to stay free of deadlocks: job
// row, then endpoint rows (by id), then result rows, then run rows.

interface EndpointRecord {
  endpoint_id: string;
  tenant_id: string;
  job_id: string;
  config: EndpointConfig;
  created_at: Date;
  status: ScheduleStatus;
  paused_until: Date | null;
  hints: GovernorHint[];
  last_run_id: string | null;
  last_run_scheduled_for: Date | null;
  last_run_started_at: Date | null;
  scheduled_runs: number;
  skipped_through: Date | null;
  next_run_id: string | null;
  next_run_at: Date | null;
  next_slot: Date | null;
  next_reason: string | null;
  planned_at: Date | null;
  lease_owner: string | null;
}

interface ResultRecord {
  last_finished: LastFinished | null;
  consecutive_failures: number | null;
  streak_since: Date | null;
  last_failure_at: Date | null;
  result_version: number | null;
}

// Named statements are prepared once per connection; they list their columns, so a migration
// that adds one does not invalidate a cached plan ("cached plan must not change result type").
const ENDPOINT_COLUMNS = `endpoint_id, tenant_id, job_id, config, created_at, status, paused_until, hints,
  last_run_id, last_run_scheduled_for, last_run_started_at, scheduled_runs, skipped_through,
  next_run_id, next_run_at, next_slot, next_reason, planned_at, lease_owner`;
const RESULT_COLUMNS = `last_finished, consecutive_failures, streak_since, last_failure_at,
  version AS result_version`;

/** A row with the lease holder, as read under its lock. */
export type LockedEndpoint = EndpointRow & { leaseOwner: string | null };

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

function toResult(r: ResultRecord): VersionedResult {
  return {
    lastFinished: r.last_finished,
    streak: {
      count: r.consecutive_failures ?? 0,
      since: iso(r.streak_since),
      lastFailureAt: iso(r.last_failure_at),
    },
    version: r.result_version ?? 0,
  };
}

const NO_RESULT: ResultRecord = {
  last_finished: null,
  consecutive_failures: null,
  streak_since: null,
  last_failure_at: null,
  result_version: null,
};

function toRow(r: EndpointRecord, resultRecord: ResultRecord = NO_RESULT): LockedEndpoint {
  const { version: _version, ...result } = toResult(resultRecord);
  return {
    endpointId: r.endpoint_id,
    tenantId: r.tenant_id,
    jobId: r.job_id,
    config: r.config,
    createdAt: r.created_at.toISOString(),
    status: r.status,
    pausedUntil: iso(r.paused_until),
    hints: r.hints,
    lastRun:
      r.last_run_id !== null && r.last_run_scheduled_for !== null
        ? {
            runId: r.last_run_id,
            scheduledFor: r.last_run_scheduled_for.toISOString(),
            startedAt: iso(r.last_run_started_at),
          }
        : null,
    ...result,
    scheduledRuns: r.scheduled_runs,
    skippedThrough: iso(r.skipped_through),
    plan:
      r.next_run_id !== null && r.next_run_at !== null && r.next_slot !== null
        ? {
            runId: r.next_run_id,
            runAt: r.next_run_at.toISOString(),
            slot: r.next_slot.toISOString(),
            reason: r.next_reason ?? '',
            plannedAt: (r.planned_at ?? r.next_run_at).toISOString(),
          }
        : null,
    leaseOwner: r.lease_owner,
  };
}

//////////////////////////////////////// Endpoints

/**
 * The endpoints' rows, locked in id order (byte order, as the due loop sorts its groups), with
 * their results. The results are read by a second statement, once the locks are held: a
 * statement that waited for a lock sees the locked row's new version but the other rows it
 * joined as they were when it began, which would miss a result written by the lock's holder.
 */
export async function lockEndpoints(
  client: PoolClient,
  endpointIds: readonly string[],
): Promise<Map<string, LockedEndpoint>> {
  const { rows } = await client.query<EndpointRecord>({
    name: 'scheduler.lock-endpoints',
    text: `SELECT ${ENDPOINT_COLUMNS} FROM scheduler_endpoints WHERE endpoint_id = ANY($1)
            ORDER BY endpoint_id COLLATE "C" FOR UPDATE`,
    values: [endpointIds],
  });
  const results = await readResults(
    client,
    rows.map((r) => r.endpoint_id),
  );
  return new Map(rows.map((r) => [r.endpoint_id, toRow(r, results.get(r.endpoint_id))]));
}

export async function lockEndpoint(client: PoolClient, endpointId: string): Promise<LockedEndpoint | null> {
  return (await lockEndpoints(client, [endpointId])).get(endpointId) ?? null;
}

/** The job's endpoints, locked in id order (byte order), with their results (see `lockEndpoints`). */
export async function lockEndpointsOfJob(client: PoolClient, jobId: string): Promise<LockedEndpoint[]> {
  const { rows } = await client.query<EndpointRecord>(
    `SELECT ${ENDPOINT_COLUMNS} FROM scheduler_endpoints WHERE job_id = $1
      ORDER BY endpoint_id COLLATE "C" FOR UPDATE`,
    [jobId],
  );
  const results = await readResults(
    client,
    rows.map((r) => r.endpoint_id),
  );
  return rows.map((r) => toRow(r, results.get(r.endpoint_id)));
}

async function readResults(
  client: PoolClient,
  endpointIds: readonly string[],
): Promise<Map<string, ResultRecord>> {
  if (endpointIds.length === 0) return new Map();
  const { rows } = await client.query<ResultRecord & { endpoint_id: string }>({
    name: 'scheduler.read-results',
    text: `SELECT endpoint_id, ${RESULT_COLUMNS} FROM scheduler_endpoint_results WHERE endpoint_id = ANY($1)`,
    values: [endpointIds],
  });
  return new Map(rows.map((r) => [r.endpoint_id, r]));
}

/** Inserts the row of a new endpoint; false when it exists already. */
export async function insertEndpoint(client: PoolClient, row: EndpointRow): Promise<boolean> {
  const { rowCount } = await client.query(
    `INSERT INTO scheduler_endpoints (endpoint_id, tenant_id, job_id, config, created_at, status)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (endpoint_id) DO NOTHING`,
    [row.endpointId, row.tenantId, row.jobId, JSON.stringify(row.config), row.createdAt, row.status],
  );
  return rowCount === 1;
}

/**
 * Writes the rows (locked by the caller) in one statement: a fire group's eight rows in one
 * round trip. `releaseLease`: the plan the row was leased for is gone or handed out (a new plan
 * must be claimed afresh); a lease on an unchanged plan is kept.
 */
export async function saveEndpoints(
  client: PoolClient,
  writes: ReadonlyArray<{ row: EndpointRow; releaseLease: boolean }>,
): Promise<void> {
  const column = <T>(value: (row: EndpointRow) => T) => writes.map((w) => value(w.row));
  await client.query({
    name: 'scheduler.save-endpoints',
    text: `UPDATE scheduler_endpoints e SET
        config = v.config, status = v.status, paused_until = v.paused_until, hints = v.hints,
        last_run_id = v.last_run_id, last_run_scheduled_for = v.last_run_scheduled_for,
        last_run_started_at = v.last_run_started_at,
        scheduled_runs = v.scheduled_runs, skipped_through = v.skipped_through,
        next_run_id = v.next_run_id, next_run_at = v.next_run_at, next_slot = v.next_slot,
        next_reason = v.next_reason, planned_at = v.planned_at,
        lease_owner = CASE WHEN v.release_lease THEN NULL ELSE e.lease_owner END,
        lease_until = CASE WHEN v.release_lease THEN NULL ELSE e.lease_until END,
        updated_at = now()
      FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::timestamptz[], $5::jsonb[], $6::uuid[],
                  $7::timestamptz[], $8::timestamptz[], $9::int[], $10::timestamptz[], $11::uuid[],
                  $12::timestamptz[], $13::timestamptz[], $14::text[], $15::timestamptz[], $16::bool[])
        AS v (endpoint_id, config, status, paused_until, hints, last_run_id, last_run_scheduled_for,
              last_run_started_at, scheduled_runs, skipped_through, next_run_id, next_run_at,
              next_slot, next_reason, planned_at, release_lease)
      WHERE e.endpoint_id = v.endpoint_id`,
    values: [
      column((row) => row.endpointId),
      column((row) => JSON.stringify(row.config)),
      column((row) => row.status),
      column((row) => row.pausedUntil),
      column((row) => JSON.stringify(row.hints)),
      column((row) => row.lastRun?.runId ?? null),
      column((row) => row.lastRun?.scheduledFor ?? null),
      column((row) => row.lastRun?.startedAt ?? null),
      column((row) => row.scheduledRuns),
      column((row) => row.skippedThrough),
      column((row) => row.plan?.runId ?? null),
      column((row) => row.plan?.runAt ?? null),
      column((row) => row.plan?.slot ?? null),
      column((row) => row.plan?.reason ?? null),
      column((row) => row.plan?.plannedAt ?? null),
      writes.map((w) => w.releaseLease),
    ],
  });
}

//////////////////////////////////////// Results

/** An endpoint's result with the version it was read at (0: no result row yet). */
export type VersionedResult = EndpointResult & { version: number };

/** What a finish folded without the endpoint's lock needs: the row, its result's version, a queued run. */
export type UnlockedEndpoint = EndpointRow & { resultVersion: number; hasQueuedRun: boolean };

/** The rows of these endpoints, read without their locks (see `finishLeavesPlan`). */
export async function readEndpoints(
  client: PoolClient,
  endpointIds: readonly string[],
): Promise<Map<string, UnlockedEndpoint>> {
  if (endpointIds.length === 0) return new Map();
  const { rows } = await client.query<EndpointRecord & ResultRecord & { has_queued_run: boolean }>({
    name: 'scheduler.read-endpoints',
    text: `SELECT ${ENDPOINT_COLUMNS}, ${RESULT_COLUMNS},
              EXISTS (SELECT 1 FROM scheduler_runs r
                       WHERE r.endpoint_id = e.endpoint_id AND r.state = 'queued') AS has_queued_run
         FROM scheduler_endpoints e LEFT JOIN scheduler_endpoint_results USING (endpoint_id)
        WHERE e.endpoint_id = ANY($1::text[])`,
    values: [endpointIds],
  });
  return new Map(
    rows.map((r) => [
      r.endpoint_id,
      { ...toRow(r, r), resultVersion: r.result_version ?? 0, hasQueuedRun: r.has_queued_run },
    ]),
  );
}

/**
 * Locks the endpoint's result, under the lock of its row, and reads it afresh: a finish
 * folded without the row's lock may have changed it since the row was read.
 */
export async function lockResult(client: PoolClient, endpointId: string): Promise<VersionedResult> {
  await client.query({
    name: 'scheduler.ensure-result',
    text: 'INSERT INTO scheduler_endpoint_results (endpoint_id) VALUES ($1) ON CONFLICT (endpoint_id) DO NOTHING',
    values: [endpointId],
  });
  const { rows } = await client.query<ResultRecord>({
    name: 'scheduler.lock-result',
    text: `SELECT ${RESULT_COLUMNS} FROM scheduler_endpoint_results WHERE endpoint_id = $1 FOR UPDATE`,
    values: [endpointId],
  });
  return toResult(rows[0]);
}

/**
 * Writes the endpoint's result if it is still at `version` (0: no result row yet, or the empty
 * one `lockResult` made); false when another transaction changed it first. A check that fails
 * on the version read leaves no lock behind (an upsert would keep the conflicting row locked);
 * one that waited for a concurrent writer keeps the row it rechecked locked, so the caller's
 * next step, the endpoint's row, may then deadlock with that writer: Postgres ends one of the
 * two, and the consumer redoes its batch.
 */
export async function saveResult(
  client: PoolClient,
  endpointId: string,
  result: EndpointResult,
  version: number,
): Promise<boolean> {
  const values = [
    endpointId,
    result.lastFinished === null ? null : JSON.stringify(result.lastFinished),
    result.streak.count,
    result.streak.since,
    result.streak.lastFailureAt,
    version,
  ];
  const updated = await client.query({
    name: 'scheduler.update-result',
    text: `UPDATE scheduler_endpoint_results SET
             last_finished = $2, consecutive_failures = $3, streak_since = $4, last_failure_at = $5,
             version = version + 1, updated_at = now()
           WHERE endpoint_id = $1 AND version = $6`,
    values,
  });
  if (updated.rowCount === 1 || version > 0) return updated.rowCount === 1;
  const { rowCount } = await client.query({
    name: 'scheduler.insert-result',
    text: `INSERT INTO scheduler_endpoint_results
             (endpoint_id, last_finished, consecutive_failures, streak_since, last_failure_at, version)
           VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (endpoint_id) DO NOTHING`,
    values: values.slice(0, 5),
  });
  return rowCount === 1;
}

/**
 * {@link saveResult} for several endpoints whose result row exists (`version` > 0), in one
 * statement; returns the endpoints written. A row another transaction changed first is left
 * out (and locked or not, as for `saveResult`).
 */
export async function saveResults(
  client: PoolClient,
  results: ReadonlyArray<{ endpointId: string; result: EndpointResult; version: number }>,
): Promise<Set<string>> {
  const sorted = [...results].sort((a, b) => inLockOrder(a.endpointId, b.endpointId));
  if (sorted.length === 0) return new Set();
  const updated = await client.query<{ endpoint_id: string }>({
    name: 'scheduler.update-results',
    text: `UPDATE scheduler_endpoint_results r SET
             last_finished = v.last_finished, consecutive_failures = v.consecutive_failures,
             streak_since = v.streak_since, last_failure_at = v.last_failure_at,
             version = r.version + 1, updated_at = now()
           FROM unnest($1::text[], $2::jsonb[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::int[])
                AS v (endpoint_id, last_finished, consecutive_failures, streak_since, last_failure_at, version)
          WHERE r.endpoint_id = v.endpoint_id AND r.version = v.version
          RETURNING r.endpoint_id`,
    values: [
      sorted.map((r) => r.endpointId),
      sorted.map((r) => (r.result.lastFinished === null ? null : JSON.stringify(r.result.lastFinished))),
      sorted.map((r) => r.result.streak.count),
      sorted.map((r) => r.result.streak.since),
      sorted.map((r) => r.result.streak.lastFailureAt),
      sorted.map((r) => r.version),
    ],
  });
  return new Set(updated.rows.map((row) => row.endpoint_id));
}

//////////////////////////////////////// Jobs

/** The job row, created as active when this is the first the scheduler hears of the job. */
export async function lockJob(
  client: PoolClient,
  jobId: string,
  tenantId: string,
  mode: 'share' | 'update',
): Promise<JobRow> {
  await client.query(
    'INSERT INTO scheduler_jobs (job_id, tenant_id) VALUES ($1, $2) ON CONFLICT (job_id) DO NOTHING',
    [jobId, tenantId],
  );
  const { rows } = await client.query<JobRecord>(
    `SELECT * FROM scheduler_jobs WHERE job_id = $1 ${mode === 'share' ? 'FOR SHARE' : 'FOR UPDATE'}`,
    [jobId],
  );
  return toJob(rows[0]);
}

/** Jobs without a lock, by id: a concurrent change re-plans their endpoints after it commits. */
export async function readJobs(client: PoolClient, jobIds: readonly string[]): Promise<Map<string, JobRow>> {
  const { rows } = await client.query<JobRecord>({
    name: 'scheduler.read-jobs',
    text: 'SELECT job_id, tenant_id, status, paused_until FROM scheduler_jobs WHERE job_id = ANY($1)',
    values: [[...new Set(jobIds)]],
  });
  return new Map(rows.map((r) => [r.job_id, toJob(r)]));
}

/** The job without a lock: a concurrent change re-plans this endpoint after it commits. */
export async function readJob(client: PoolClient, jobId: string): Promise<JobRow | null> {
  return (await readJobs(client, [jobId])).get(jobId) ?? null;
}

export async function saveJob(client: PoolClient, job: JobRow): Promise<void> {
  await client.query(
    'UPDATE scheduler_jobs SET status = $2, paused_until = $3, updated_at = now() WHERE job_id = $1',
    [job.jobId, job.status, job.pausedUntil],
  );
}

interface JobRecord {
  job_id: string;
  tenant_id: string;
  status: ScheduleStatus;
  paused_until: Date | null;
}

const toJob = (r: JobRecord): JobRow => ({
  jobId: r.job_id,
  tenantId: r.tenant_id,
  status: r.status,
  pausedUntil: iso(r.paused_until),
});

//////////////////////////////////////// Runs

/** SQL: the run with id `runId` (a column or a parameter) has a `type` event in the log. */
export const IN_LOG = (runId: string, type: 'RunStarted' | 'RunFinished') =>
  `EXISTS (SELECT 1 FROM events e WHERE e.stream_id = 'run-' || ${runId} AND e.type = '${type}')`;

/**
 * Whether each endpoint has a run in flight or queued. A run whose RunFinished is in the log
 * is over, even before this scheduler has folded it: the overlap policy reads the truth, not
 * the fold's lag. Such runs are marked finished on the way (as the fold will; rows the fold
 * holds are skipped), so that while the fold runs behind each is looked up in the log once,
 * not at every fire of its endpoint.
 */
export async function openRunsOf(
  client: PoolClient,
  endpointIds: readonly string[],
): Promise<Map<string, OpenRuns>> {
  const { rows } = await client.query<{ endpoint_id: string; in_flight: boolean; queued: boolean }>({
    name: 'scheduler.open-runs-of',
    text: `WITH open AS (
         SELECT r.run_id, r.endpoint_id, r.state, fin.run_id IS NOT NULL AS over, fin.finished_at
           FROM scheduler_runs r
           LEFT JOIN LATERAL (
             SELECT r.run_id, (e.data->>'finishedAt')::timestamptz AS finished_at FROM events e
              WHERE e.stream_id = 'run-' || r.run_id AND e.type = 'RunFinished'
              ORDER BY e.stream_version LIMIT 1) fin ON r.state IN ('dispatched', 'started')
          WHERE r.endpoint_id = ANY($1) AND r.state IN ('queued', 'dispatched', 'started')),
       closing AS (
         SELECT r.run_id, o.finished_at FROM scheduler_runs r JOIN open o ON o.run_id = r.run_id
          WHERE o.over
          FOR UPDATE OF r SKIP LOCKED),
       closed AS (
         UPDATE scheduler_runs s SET state = 'finished', finished_at = c.finished_at
           FROM closing c WHERE s.run_id = c.run_id)
       SELECT endpoint_id,
              bool_or(state IN ('dispatched', 'started') AND NOT over) IS TRUE AS in_flight,
              bool_or(state = 'queued') IS TRUE AS queued
         FROM open GROUP BY endpoint_id`,
    values: [endpointIds],
  });
  const open = new Map(rows.map((r) => [r.endpoint_id, { inFlight: r.in_flight, queued: r.queued }]));
  return new Map(endpointIds.map((id) => [id, open.get(id) ?? { inFlight: false, queued: false }]));
}

export async function openRuns(client: PoolClient, endpointId: string): Promise<OpenRuns> {
  return (await openRunsOf(client, [endpointId])).get(endpointId)!;
}

/**
 * Records runs handed out at `now` (app clock). `publishedByCaller`: the caller publishes them
 * itself right after the commit, so they are recorded as published now (one write per run, not
 * a second one after the publish); should that publish never happen, the outbox's republish
 * rule publishes them. Otherwise they are left to the outbox's first-publish pass.
 */
export async function insertRuns(
  client: PoolClient,
  handOuts: readonly HandOut[],
  now: Date,
  publishedByCaller: boolean,
): Promise<void> {
  if (handOuts.length === 0) return;
  await client.query({
    name: 'scheduler.insert-runs',
    text: `INSERT INTO scheduler_runs (run_id, endpoint_id, tenant_id, trigger, scheduled_for, state, work_item,
                                 dispatched_at, published_at, publish_count)
     SELECT t.run_id, t.endpoint_id, t.tenant_id, t.trigger, t.scheduled_for, t.state, t.work_item,
            CASE WHEN t.state = 'dispatched' THEN $8::timestamptz END,
            CASE WHEN t.state = 'dispatched' AND $9 THEN clock_timestamp() END,
            CASE WHEN t.state = 'dispatched' AND $9 THEN 1 ELSE 0 END
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::jsonb[])
            AS t(run_id, endpoint_id, tenant_id, trigger, scheduled_for, state, work_item)
     ON CONFLICT (run_id) DO NOTHING`,
    values: [
      handOuts.map((h) => h.runId),
      handOuts.map((h) => h.workItem.endpointId),
      handOuts.map((h) => h.workItem.tenantId),
      handOuts.map((h) => h.trigger),
      handOuts.map((h) => h.scheduledFor),
      handOuts.map((h) => h.state),
      handOuts.map((h) => JSON.stringify(h.workItem)),
      now,
      publishedByCaller,
    ],
  });
}

/**
 * A run marked missed that starts after all is in flight again (the overlap policy counts it).
 * Runs that start in time are not marked: they stay `dispatched` until their finish is folded
 * (or found in the log), which is all the state the scheduler reads; the outbox marks those in
 * flight past `republishAfterMs` started from the log. One statement for a batch, reading
 * rows by key and locking only the (rare) missed ones, in run id order.
 */
export async function markMissedRunsStarted(
  client: PoolClient,
  runs: ReadonlyArray<{ runId: string; startedAt: string }>,
): Promise<void> {
  const first = firstPerRun(runs);
  if (first.length === 0) return;
  await client.query({
    name: 'scheduler.mark-missed-runs-started',
    text: `UPDATE scheduler_runs r SET state = 'started', started_at = COALESCE(r.started_at, m.started_at)
       FROM (SELECT u.run_id, u.started_at FROM unnest($1::uuid[], $2::timestamptz[]) AS u (run_id, started_at)
              JOIN scheduler_runs s ON s.run_id = u.run_id AND s.state = 'missed'
             ORDER BY u.run_id FOR UPDATE OF s) m
      WHERE r.run_id = m.run_id AND r.state = 'missed'`,
    values: [first.map((r) => r.runId), first.map((r) => r.startedAt)],
  });
}

/**
 * Which of these `RunStarted` change nothing in their endpoint's row (by index), read without
 * its lock: the row's latest run is this one and counts as started already (the scheduler
 * starts the clock when it hands a run out), or this run is a retry or older than the latest
 * (see `applyRunStarted`). The latest run only moves to newer runs and its start is never
 * cleared, so an answer cannot turn false before the caller's commit. While the run fold runs
 * behind, the RunStarted of most runs arrives after the next run was handed out: this keeps
 * them off the row's lock and away from a re-plan.
 */
export async function runsStartedChangingNothing(
  client: PoolClient,
  runs: ReadonlyArray<{ endpointId: string; runId: string; trigger: RunTrigger; scheduledFor: string }>,
): Promise<Set<number>> {
  if (runs.length === 0) return new Set();
  const { rows } = await client.query<{ i: string }>({
    name: 'scheduler.runs-started-changing-nothing',
    text: `SELECT t.i FROM unnest($1::text[], $2::uuid[], $3::text[], $4::timestamptz[])
                   WITH ORDINALITY AS t (endpoint_id, run_id, trigger, scheduled_for, i)
             JOIN scheduler_endpoints e ON e.endpoint_id = t.endpoint_id
            WHERE CASE WHEN e.last_run_id = t.run_id THEN e.last_run_started_at IS NOT NULL
                       WHEN t.trigger = 'retry' THEN true
                       ELSE e.last_run_id IS NOT NULL AND t.scheduled_for <= e.last_run_scheduled_for END`,
    values: [
      runs.map((r) => r.endpointId),
      runs.map((r) => r.runId),
      runs.map((r) => r.trigger),
      runs.map((r) => r.scheduledFor),
    ],
  });
  return new Set(rows.map((row) => Number(row.i) - 1));
}

/** Marks runs finished. One statement for a batch; rows are locked in run id order. */
export async function markRunsFinished(
  client: PoolClient,
  runs: ReadonlyArray<{ runId: string; finishedAt: string }>,
): Promise<void> {
  const first = firstPerRun(runs);
  if (first.length === 0) return;
  await client.query({
    name: 'scheduler.mark-runs-finished',
    text: `UPDATE scheduler_runs r SET state = 'finished', finished_at = m.finished_at
       FROM (SELECT u.run_id, u.finished_at FROM unnest($1::uuid[], $2::timestamptz[]) AS u (run_id, finished_at)
              JOIN scheduler_runs s ON s.run_id = u.run_id AND s.state <> 'finished'
             ORDER BY u.run_id FOR UPDATE OF s) m
      WHERE r.run_id = m.run_id AND r.state <> 'finished'`,
    values: [first.map((r) => r.runId), first.map((r) => r.finishedAt)],
  });
}

function firstPerRun<R extends { runId: string }>(runs: readonly R[]): R[] {
  const seen = new Set<string>();
  return runs.filter((r) => !seen.has(r.runId) && seen.add(r.runId));
}

/**
 * The run must still be dispatched and unstarted, also in the log (a fold running behind has
 * not seen every RunStarted yet); returns whether it was marked missed.
 */
export async function markRunMissed(client: PoolClient, runId: string, now: Date): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE scheduler_runs SET state = 'missed', missed_at = $2
      WHERE run_id = $1 AND state = 'dispatched'
        AND NOT ${IN_LOG('$1', 'RunStarted')}`,
    [runId, now],
  );
  return rowCount === 1;
}

/**
 * A run just marked missed whose `RunStarted` is in the log after all is in flight again, as
 * the fold of that RunStarted marks it (`markMissedRunsStarted`).
 */
export async function markMissedRunStartedByLog(client: Pool | PoolClient, runId: string): Promise<void> {
  await client.query(
    `UPDATE scheduler_runs r SET state = 'started', started_at = first_start.started_at
       FROM (SELECT (e.data->>'startedAt')::timestamptz AS started_at FROM events e
              WHERE e.stream_id = 'run-' || $1 AND e.type = 'RunStarted'
              ORDER BY e.stream_version LIMIT 1) first_start
      WHERE r.run_id = $1::uuid AND r.state = 'missed'`,
    [runId],
  );
}

/**
 * When nothing of the endpoint is in flight any more (by the log, like `openRuns`), the run
 * `queue_one` held back is handed out now; returns its id (the outbox publishes it).
 */
export async function releaseQueuedRun(
  client: PoolClient,
  endpointId: string,
  now: Date,
): Promise<string | null> {
  const { rows } = await client.query<{ run_id: string }>(
    `UPDATE scheduler_runs SET state = 'dispatched', dispatched_at = $2
      WHERE run_id = (
        SELECT run_id FROM scheduler_runs
         WHERE endpoint_id = $1 AND state = 'queued'
           AND NOT EXISTS (SELECT 1 FROM scheduler_runs o
                            WHERE o.endpoint_id = $1 AND o.state IN ('dispatched', 'started')
                              AND NOT ${IN_LOG('o.run_id', 'RunFinished')})
         ORDER BY scheduled_for LIMIT 1)
     RETURNING run_id`,
    [endpointId, now],
  );
  return rows.length ? rows[0].run_id : null;
}

/** Deletes the runs `queue_one` holds back for the endpoint; returns them. */
export async function deleteQueuedRuns(
  client: PoolClient,
  endpointId: string,
): Promise<Array<{ runId: string; scheduledFor: string }>> {
  const { rows } = await client.query<{ run_id: string; scheduled_for: Date }>(
    `DELETE FROM scheduler_runs WHERE endpoint_id = $1 AND state = 'queued' RETURNING run_id, scheduled_for`,
    [endpointId],
  );
  return rows.map((r) => ({ runId: r.run_id, scheduledFor: r.scheduled_for.toISOString() }));
}

/** A run as the dispatch outbox and the missed-run check read it. */
export interface RunRecord {
  runId: string;
  endpointId: string;
  tenantId: string;
  trigger: RunTrigger;
  scheduledFor: string;
  workItem: HandOut['workItem'];
  published: boolean;
}
