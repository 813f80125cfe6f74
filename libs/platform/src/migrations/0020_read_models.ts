/**
 * The read models the API serves (libs/read-models), written only by the projector and
 * rebuilt from the log by `npm run projector:rebuild`, which truncates every `rm_*` table.
 *
 * - `rm_stream_versions`: the last version of each stream the read models include; the
 *   guard that makes applying an event twice a no-op, whoever applies it.
 * - Rows of `rm_endpoints` may be created by schedule, run or planner events before
 *   `EndpointCreated` arrives (the streams are independent); `created_at IS NULL` marks such
 *   a row and queries skip it.
 * - Histograms in `rm_run_stats_hourly` are int arrays over fixed log-spaced buckets (see
 *   libs/read-models/src/stats/histogram.ts); their length is set by the code that writes them.
 */
export const id = '0020_read_models';

export const sql = `
  CREATE TABLE rm_stream_versions (
    stream_id       text        PRIMARY KEY,
    version         integer     NOT NULL
  );

  CREATE TABLE rm_jobs (
    job_id                   text        PRIMARY KEY,
    tenant_id                text        NOT NULL,
    name                     text        NOT NULL,
    description              text,
    status                   text        NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
    paused_until             timestamptz,
    pause_reason             text,
    paused_at                timestamptz,
    endpoint_count           integer     NOT NULL DEFAULT 0,
    archived_endpoint_count  integer     NOT NULL DEFAULT 0,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    archived_at              timestamptz
  );
  CREATE INDEX rm_jobs_tenant_created_idx ON rm_jobs (tenant_id, created_at DESC, job_id DESC);

  CREATE TABLE rm_endpoints (
    endpoint_id           text        PRIMARY KEY,
    tenant_id             text        NOT NULL,
    job_id                text,
    name                  text,
    description           text,
    config                jsonb,
    status                text        CHECK (status IN ('active', 'paused', 'archived')),
    paused_until          timestamptz,
    pause_reason          text,
    paused_by             text,
    paused_at             timestamptz,
    archived_at           timestamptz,
    failures_reset_at     timestamptz,
    hints                 jsonb       NOT NULL DEFAULT '[]'::jsonb,
    next_run_id           text,
    next_run_at           timestamptz,
    next_run_reason       text,
    next_run_planned_at   timestamptz,
    last_run_id           text,
    last_run_status       text,
    last_run_http_status  integer,
    last_run_duration_ms  integer,
    last_run_started_at   timestamptz,
    last_run_finished_at  timestamptz,
    last_success_at       timestamptz,
    failure_streak        integer     NOT NULL DEFAULT 0,
    runs_count            integer     NOT NULL DEFAULT 0,
    last_analysis_id      text,
    last_analysis_status  text,
    last_analysis_at      timestamptz,
    planner               text,
    planner_model         text,
    created_at            timestamptz,
    updated_at            timestamptz
  );
  CREATE INDEX rm_endpoints_tenant_created_idx ON rm_endpoints (tenant_id, created_at DESC, endpoint_id DESC);
  CREATE INDEX rm_endpoints_job_created_idx ON rm_endpoints (job_id, created_at DESC, endpoint_id DESC);

  CREATE TABLE rm_runs (
    run_id                  text        PRIMARY KEY,
    tenant_id               text        NOT NULL,
    endpoint_id             text        NOT NULL,
    job_id                  text        NOT NULL,
    status                  text        NOT NULL CHECK (status IN ('running', 'success', 'failed', 'timeout')),
    trigger                 text        NOT NULL,
    retry_of                text,
    scheduled_for           timestamptz NOT NULL,
    started_at              timestamptz NOT NULL,
    finished_at             timestamptz,
    late_ms                 bigint      NOT NULL,
    duration_ms             integer,
    http_status             integer,
    attempts                integer,
    attempt                 integer     NOT NULL,
    error                   text,
    response_snippet        text,
    response_bytes          integer,
    response_truncated      boolean,
    response_content_type   text,
    retry_after_ms          integer
  );
  CREATE INDEX rm_runs_endpoint_started_idx ON rm_runs (endpoint_id, started_at DESC, run_id DESC);
  CREATE INDEX rm_runs_endpoint_status_started_idx ON rm_runs (endpoint_id, status, started_at DESC, run_id DESC);
  -- The failure streak looks back from the newest finished schedule/manual run.
  CREATE INDEX rm_runs_endpoint_streak_idx ON rm_runs (endpoint_id, finished_at)
    WHERE trigger IN ('schedule', 'manual') AND finished_at IS NOT NULL;

  CREATE TABLE rm_analyses (
    analysis_id     text        PRIMARY KEY,
    tenant_id       text        NOT NULL,
    endpoint_id     text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('completed', 'failed')),
    planner         text,
    model           text        NOT NULL,
    tokens_in       integer     NOT NULL DEFAULT 0,
    tokens_out      integer     NOT NULL DEFAULT 0,
    tool_calls      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    summary         text,
    failure_reason  text,
    error           text,
    at              timestamptz NOT NULL
  );
  CREATE INDEX rm_analyses_endpoint_at_idx ON rm_analyses (endpoint_id, at DESC, analysis_id DESC);

  CREATE TABLE rm_run_stats_hourly (
    tenant_id         text        NOT NULL,
    endpoint_id       text        NOT NULL,
    hour_start        timestamptz NOT NULL,
    job_id            text,
    runs_success      integer     NOT NULL DEFAULT 0,
    runs_failed       integer     NOT NULL DEFAULT 0,
    runs_timeout      integer     NOT NULL DEFAULT 0,
    runs_missed       integer     NOT NULL DEFAULT 0,
    runs_skipped      integer     NOT NULL DEFAULT 0,
    latency_count     integer     NOT NULL DEFAULT 0,
    latency_sum_ms    bigint      NOT NULL DEFAULT 0,
    latency_min_ms    bigint,
    latency_max_ms    bigint,
    latency_buckets   integer[]   NOT NULL,
    lateness_count    integer     NOT NULL DEFAULT 0,
    lateness_sum_ms   bigint      NOT NULL DEFAULT 0,
    lateness_min_ms   bigint,
    lateness_max_ms   bigint,
    lateness_buckets  integer[]   NOT NULL,
    ai_analyses       integer     NOT NULL DEFAULT 0,
    ai_failed         integer     NOT NULL DEFAULT 0,
    ai_tokens_in      bigint      NOT NULL DEFAULT 0,
    ai_tokens_out     bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, endpoint_id, hour_start)
  );
  CREATE INDEX rm_run_stats_hourly_tenant_hour_idx ON rm_run_stats_hourly (tenant_id, hour_start);
  CREATE INDEX rm_run_stats_hourly_job_hour_idx ON rm_run_stats_hourly (job_id, hour_start);
`;
