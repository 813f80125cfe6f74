/**
 * The ai-planner's own state (apps/ai-planner).
 *
 * - `ai_planner_endpoints`: one row per endpoint that ever finished a run or was analysed on
 *   demand. The event consumer only records here that an analysis is wanted (`due_at`,
 *   `requests`), the failure streak it saw and the newest RunFinished's position (the
 *   analysis waits, briefly, for the read models to include it); the analysis loop claims due rows with a lease
 *   (`FOR UPDATE SKIP LOCKED`, then committed), calls the planner outside any transaction and
 *   releases the row in the transaction that records the analysis. `due_at`, `requested_at`
 *   and `last_analyzed_at` are in the apps' clock; `lease_until` in the database's.
 * - `ai_planner_usage`: LLM tokens per tenant per UTC day, written in the same transaction as
 *   the analysis event that used them; the daily budget (`AI_DAILY_TOKEN_BUDGET`) reads it.
 */
export const id = '0040_ai_planner';

export const sql = `
  CREATE TABLE ai_planner_endpoints (
    endpoint_id              text        PRIMARY KEY,
    tenant_id                text        NOT NULL,
    due_at                   timestamptz,
    requests                 bigint      NOT NULL DEFAULT 0,
    claimed_requests         bigint      NOT NULL DEFAULT 0,
    requested_at             timestamptz,
    failure_streak           integer     NOT NULL DEFAULT 0,
    last_finished_at         timestamptz,
    analyzed_failure_streak  integer,
    last_analyzed_at         timestamptz,
    correlation_id           text,
    causation_id             text,
    run_position             bigint,
    attempts                 integer     NOT NULL DEFAULT 0,
    lease_owner              text,
    lease_until              timestamptz,
    updated_at               timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX ai_planner_endpoints_due_idx ON ai_planner_endpoints (due_at) WHERE due_at IS NOT NULL;

  CREATE TABLE ai_planner_usage (
    tenant_id   text        NOT NULL,
    day         date        NOT NULL,
    tokens_in   bigint      NOT NULL DEFAULT 0,
    tokens_out  bigint      NOT NULL DEFAULT 0,
    analyses    integer     NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, day)
  );
`;
