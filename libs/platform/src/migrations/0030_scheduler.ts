/**
 * The scheduler's own state (apps/scheduler), folded from endpoint, job and run events and
 * written together with the `schedule-<endpointId>` events it appends.
 *
 * - `scheduler_jobs`: the pause/archive state of each job (a row may be created by the first
 *   endpoint event seen before its job's events).
 * - `scheduler_endpoints`: one row per endpoint: the governor's inputs (config, status, hints),
 *   the run history it needs, the current plan, and the lease of the replica that will hand
 *   the plan out. Plan times are in the apps' clock; `lease_until` is in the database's clock
 *   (one clock for every replica, whatever their own skew).
 * - `scheduler_runs`: every run handed out (scheduled, queued, manual): the dispatch outbox
 *   (`published_at`, republish claims) and the run's progress (in flight, missed).
 */
export const id = '0030_scheduler';

export const sql = `
  CREATE TABLE scheduler_jobs (
    job_id        text        PRIMARY KEY,
    tenant_id     text        NOT NULL,
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'archived')),
    paused_until  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
  );

  CREATE TABLE scheduler_endpoints (
    endpoint_id             text        PRIMARY KEY,
    tenant_id               text        NOT NULL,
    job_id                  text        NOT NULL,
    config                  jsonb       NOT NULL,
    created_at              timestamptz NOT NULL,
    status                  text        NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
    paused_until            timestamptz,
    hints                   jsonb       NOT NULL DEFAULT '[]'::jsonb,
    last_run_id             uuid,
    last_run_scheduled_for  timestamptz,
    last_run_started_at     timestamptz,
    last_finished           jsonb,
    consecutive_failures    integer     NOT NULL DEFAULT 0,
    streak_since            timestamptz,
    last_failure_at         timestamptz,
    scheduled_runs          integer     NOT NULL DEFAULT 0,
    skipped_through         timestamptz,
    next_run_id             uuid,
    next_run_at             timestamptz,
    next_slot               timestamptz,
    next_reason             text,
    planned_at              timestamptz,
    lease_owner             text,
    lease_until             timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX scheduler_endpoints_due_idx ON scheduler_endpoints (next_run_at) WHERE next_run_at IS NOT NULL;
  CREATE INDEX scheduler_endpoints_job_idx ON scheduler_endpoints (job_id);

  CREATE TABLE scheduler_runs (
    run_id                 uuid        PRIMARY KEY,
    endpoint_id            text        NOT NULL,
    tenant_id              text        NOT NULL,
    trigger                text        NOT NULL,
    scheduled_for          timestamptz NOT NULL,
    state                  text        NOT NULL CHECK (state IN ('queued', 'dispatched', 'started', 'finished', 'missed')),
    work_item              jsonb       NOT NULL,
    dispatched_at          timestamptz,
    published_at           timestamptz,
    publish_count          integer     NOT NULL DEFAULT 0,
    publish_claimed_until  timestamptz,
    started_at             timestamptz,
    finished_at            timestamptz,
    missed_at              timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX scheduler_runs_open_idx ON scheduler_runs (endpoint_id)
    WHERE state IN ('queued', 'dispatched', 'started');
  CREATE INDEX scheduler_runs_dispatched_idx ON scheduler_runs (dispatched_at) WHERE state = 'dispatched';
  CREATE INDEX scheduler_runs_closed_idx ON scheduler_runs (created_at) WHERE state IN ('finished', 'missed');
`;
