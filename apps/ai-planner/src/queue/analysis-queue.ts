import type { Pool, PoolClient } from 'pg';
import { EventEnvelope, RunFinished } from '@cronicorn/events';
import { dueAfterAnalysis, dueAfterRun, DueState, streakAfterRun } from './analysis-due';

/** A row of `ai_planner_endpoints` this replica holds the lease of. */
export interface ClaimedEndpoint {
  endpointId: string;
  tenantId: string;
  /** The streak the queue has seen; recorded as what this analysis saw. */
  failureStreak: number;
  correlationId: string | null;
  causationId: string | null;
  /** Global position of the newest RunFinished seen (decimal string). */
  runPosition: string | null;
  attempts: number;
}

interface Row {
  endpoint_id: string;
  tenant_id: string;
  due_at: Date | null;
  failure_streak: number;
  last_finished_at: Date | null;
  analyzed_failure_streak: number | null;
  last_analyzed_at: Date | null;
  correlation_id: string | null;
  causation_id: string | null;
  run_position: string | null;
  attempts: number;
}

/** An endpoint without a row yet. */
const NO_STATE: DueState = {
  dueAt: null,
  failureStreak: 0,
  lastFinishedAt: null,
  analyzedFailureStreak: null,
  lastAnalyzedAt: null,
};

/** What a batch of finished runs adds to an endpoint's row besides its due state. */
interface Update {
  tenantId: string;
  requests: number;
  correlationId: string | null;
  causationId: string;
  runPosition: string;
}

const claimed = (row: Row): ClaimedEndpoint => ({
  endpointId: row.endpoint_id,
  tenantId: row.tenant_id,
  failureStreak: row.failure_streak,
  correlationId: row.correlation_id,
  causationId: row.causation_id,
  runPosition: row.run_position,
  attempts: row.attempts,
});

/**
 * `ai_planner_endpoints`: which endpoints want an analysis, and who is analysing which.
 *
 * Leases are short transactions, never a lock held across an LLM call: a transaction that
 * stays open holds back every reader of the event log (ADR 0001). A lease expires by the
 * database clock, so a replica that dies mid-analysis delays that endpoint by `leaseMs`.
 */
export class AnalysisQueue {
  constructor(
    private readonly pool: Pool,
    private readonly owner: string,
    private readonly intervalMs: number,
    private readonly leaseMs: number,
  ) {}

  /**
   * In the log tail's transaction: runs finished, so their endpoints want an analysis
   * (debounced, see `dueAfterRun`). The batch's other events are ignored. One locking read
   * and one write for the whole batch, its events folded in order per endpoint.
   */
  async recordRunsFinished(
    client: PoolClient,
    envelopes: readonly EventEnvelope[],
    now: Date,
  ): Promise<void> {
    const finished = envelopes.filter((e) => e.type === 'RunFinished');
    if (finished.length === 0) return;
    const endpointIds = [...new Set(finished.map((e) => (e.data as RunFinished['data']).endpointId))];
    const { rows } = await client.query<Row>({
      name: 'ai-planner.lock-endpoints',
      // Sorted under the lock: batches lock their rows in one order.
      text: `SELECT endpoint_id, due_at, failure_streak, last_finished_at, analyzed_failure_streak, last_analyzed_at
               FROM ai_planner_endpoints WHERE endpoint_id = ANY($1::text[])
              ORDER BY endpoint_id COLLATE "C" FOR UPDATE`,
      values: [endpointIds],
    });
    const states = new Map<string, DueState>(
      rows.map((row) => [
        row.endpoint_id,
        {
          dueAt: row.due_at,
          failureStreak: row.failure_streak,
          lastFinishedAt: row.last_finished_at,
          analyzedFailureStreak: row.analyzed_failure_streak,
          lastAnalyzedAt: row.last_analyzed_at,
        },
      ]),
    );
    const updates = new Map<string, Update>();
    for (const envelope of finished) {
      const data = envelope.data as RunFinished['data'];
      const state = states.get(data.endpointId) ?? NO_STATE;
      const streak = streakAfterRun(state, {
        status: data.status,
        trigger: data.trigger,
        finishedAt: new Date(data.finishedAt),
      });
      const dueAt = dueAfterRun(state, streak.failureStreak, now, this.intervalMs);
      states.set(data.endpointId, { ...state, dueAt, ...streak });
      const previous = updates.get(data.endpointId);
      updates.set(data.endpointId, {
        tenantId: envelope.tenantId,
        requests: (previous?.requests ?? 0) + 1,
        correlationId: envelope.metadata.correlationId ?? null,
        causationId: envelope.id,
        runPosition:
          previous && BigInt(previous.runPosition) > BigInt(envelope.position)
            ? previous.runPosition
            : envelope.position,
      });
    }
    const ids = [...updates.keys()];
    const update = (id: string) => updates.get(id)!;
    const state = (id: string) => states.get(id)!;
    await client.query({
      name: 'ai-planner.record-runs-finished',
      text: `INSERT INTO ai_planner_endpoints (endpoint_id, tenant_id, due_at, requests, requested_at, failure_streak,
                                         last_finished_at, correlation_id, causation_id, run_position)
       SELECT u.endpoint_id, u.tenant_id, u.due_at, u.requests, $9, u.failure_streak, u.last_finished_at,
              u.correlation_id, u.causation_id, u.run_position
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::int[], $6::timestamptz[],
                     $7::text[], $8::text[], $10::bigint[])
              AS u (endpoint_id, tenant_id, due_at, requests, failure_streak, last_finished_at,
                    correlation_id, causation_id, run_position)
       ON CONFLICT (endpoint_id) DO UPDATE SET
         due_at = EXCLUDED.due_at, requests = ai_planner_endpoints.requests + EXCLUDED.requests,
         requested_at = EXCLUDED.requested_at, failure_streak = EXCLUDED.failure_streak,
         last_finished_at = EXCLUDED.last_finished_at, correlation_id = EXCLUDED.correlation_id,
         causation_id = EXCLUDED.causation_id,
         run_position = GREATEST(ai_planner_endpoints.run_position, EXCLUDED.run_position), updated_at = now()`,
      values: [
        ids,
        ids.map((id) => update(id).tenantId),
        ids.map((id) => state(id).dueAt),
        ids.map((id) => update(id).requests),
        ids.map((id) => state(id).failureStreak),
        ids.map((id) => state(id).lastFinishedAt),
        ids.map((id) => update(id).correlationId),
        ids.map((id) => update(id).causationId),
        now,
        ids.map((id) => update(id).runPosition),
      ],
    });
  }

  /** Leases up to `limit` due rows nobody holds (replicas skip each other's locked rows). */
  async claimDue(now: Date, limit: number): Promise<ClaimedEndpoint[]> {
    const { rows } = await this.pool.query<Row>(
      `UPDATE ai_planner_endpoints t
          SET lease_owner = $1, lease_until = clock_timestamp() + make_interval(secs => $2::double precision / 1000),
              claimed_requests = t.requests, updated_at = now()
        WHERE t.endpoint_id IN (
                SELECT endpoint_id FROM ai_planner_endpoints
                 WHERE due_at <= $3 AND (lease_until IS NULL OR lease_until <= clock_timestamp())
                 ORDER BY due_at
                 LIMIT $4
                 FOR UPDATE SKIP LOCKED)
        RETURNING t.*`,
      [this.owner, this.leaseMs, now, limit],
    );
    return rows.map(claimed);
  }

  /**
   * Leases one endpoint for an analysis on demand, creating its row if needed; null while
   * another analysis of it holds the lease.
   */
  async acquire(endpointId: string, tenantId: string): Promise<ClaimedEndpoint | null> {
    const { rows } = await this.pool.query<Row>(
      `INSERT INTO ai_planner_endpoints (endpoint_id, tenant_id, lease_owner, lease_until)
       VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4::double precision / 1000))
       ON CONFLICT (endpoint_id) DO UPDATE
         SET lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until,
             claimed_requests = ai_planner_endpoints.requests, updated_at = now()
       WHERE ai_planner_endpoints.lease_until IS NULL OR ai_planner_endpoints.lease_until <= clock_timestamp()
       RETURNING *`,
      [endpointId, tenantId, this.owner, this.leaseMs],
    );
    return rows.length ? claimed(rows[0]) : null;
  }

  /**
   * In the transaction that records the analysis: releases the lease and decides when the
   * next analysis is due (`dueAfterAnalysis`). Does nothing if the lease was lost meanwhile.
   */
  async finish(client: PoolClient, endpoint: ClaimedEndpoint, now: Date): Promise<void> {
    const { rows } = await client.query<{ failure_streak: number; fresh: boolean }>(
      `SELECT failure_streak, requests > claimed_requests AS fresh FROM ai_planner_endpoints
        WHERE endpoint_id = $1 AND lease_owner = $2 FOR UPDATE`,
      [endpoint.endpointId, this.owner],
    );
    if (rows.length === 0) return;
    const dueAt = dueAfterAnalysis(
      rows[0].failure_streak,
      endpoint.failureStreak,
      rows[0].fresh,
      now,
      this.intervalMs,
    );
    await client.query(
      `UPDATE ai_planner_endpoints
          SET lease_owner = NULL, lease_until = NULL, attempts = 0, last_analyzed_at = $2,
              analyzed_failure_streak = $3, due_at = $4, updated_at = now()
        WHERE endpoint_id = $1`,
      [endpoint.endpointId, now, endpoint.failureStreak, dueAt],
    );
  }

  /** The endpoint is gone (archived or never existed): nothing is due any more. */
  async drop(endpoint: ClaimedEndpoint): Promise<void> {
    await this.pool.query(
      `UPDATE ai_planner_endpoints SET lease_owner = NULL, lease_until = NULL, due_at = NULL, attempts = 0,
              updated_at = now()
        WHERE endpoint_id = $1 AND lease_owner = $2`,
      [endpoint.endpointId, this.owner],
    );
  }

  /** The analysis could not run (Postgres or NATS trouble): try again at `retryAt`. */
  async retryLater(endpoint: ClaimedEndpoint, retryAt: Date): Promise<void> {
    await this.pool.query(
      `UPDATE ai_planner_endpoints
          SET lease_owner = NULL, lease_until = NULL, attempts = attempts + 1,
              due_at = CASE WHEN due_at IS NULL AND requests <= claimed_requests THEN NULL ELSE $3 END,
              updated_at = now()
        WHERE endpoint_id = $1 AND lease_owner = $2`,
      [endpoint.endpointId, this.owner, retryAt],
    );
  }

  /** Gives a lease back untouched (on-demand analysis refused, shutdown). */
  async release(endpoint: ClaimedEndpoint): Promise<void> {
    await this.pool.query(
      `UPDATE ai_planner_endpoints SET lease_owner = NULL, lease_until = NULL, updated_at = now()
        WHERE endpoint_id = $1 AND lease_owner = $2`,
      [endpoint.endpointId, this.owner],
    );
  }
}
