import type { PlannerToolCall } from '@cronicorn/events';
import { decodeCursor, Page, PageRequest, pageSize, toPage } from '../pagination';
import { Queryable } from '../projection';

/** One analysis cycle as `GET /v1/endpoints/:id/analyses` shows it. */
export interface AnalysisView {
  id: string;
  tenantId: string;
  endpointId: string;
  status: 'completed' | 'failed';
  /** `ai` for an LLM (every failed analysis is one), `heuristic` for the built-in rules. */
  planner: 'ai' | 'heuristic' | null;
  model: string;
  tokensIn: number;
  tokensOut: number;
  /** Each tool call with whether the endpoint decider accepted it and why not. */
  toolCalls: PlannerToolCall[];
  summary: string | null;
  failureReason: 'timeout' | 'error' | 'malformed' | null;
  error: string | null;
  /** analyzedAt, or failedAt. */
  at: string;
}

export interface ListAnalysesFilter extends PageRequest {
  status?: 'completed' | 'failed';
}

interface AnalysisRow {
  analysis_id: string;
  tenant_id: string;
  endpoint_id: string;
  status: 'completed' | 'failed';
  planner: 'ai' | 'heuristic' | null;
  model: string;
  tokens_in: number;
  tokens_out: number;
  tool_calls: PlannerToolCall[];
  summary: string | null;
  failure_reason: 'timeout' | 'error' | 'malformed' | null;
  error: string | null;
  at: Date;
}

function toView(row: AnalysisRow): AnalysisView {
  return {
    id: row.analysis_id,
    tenantId: row.tenant_id,
    endpointId: row.endpoint_id,
    status: row.status,
    planner: row.planner,
    model: row.model,
    tokensIn: row.tokens_in,
    tokensOut: row.tokens_out,
    toolCalls: row.tool_calls,
    summary: row.summary,
    failureReason: row.failure_reason,
    error: row.error,
    at: row.at.toISOString(),
  };
}

/** The tenant's analysis; null for an unknown id or another tenant's. */
export async function getAnalysis(
  db: Queryable,
  tenantId: string,
  analysisId: string,
): Promise<AnalysisView | null> {
  const { rows } = await db.query<AnalysisRow>(
    'SELECT * FROM rm_analyses WHERE tenant_id = $1 AND analysis_id = $2',
    [tenantId, analysisId],
  );
  return rows.length ? toView(rows[0]) : null;
}

/** The endpoint's analyses, newest first (empty for another tenant's endpoint). */
export async function listAnalyses(
  db: Queryable,
  tenantId: string,
  endpointId: string,
  filter: ListAnalysesFilter = {},
): Promise<Page<AnalysisView>> {
  const limit = pageSize(filter.limit);
  const after = decodeCursor(filter.cursor);
  const { rows } = await db.query<AnalysisRow>(
    `SELECT * FROM rm_analyses
      WHERE endpoint_id = $1 AND tenant_id = $2
        AND ($3::text IS NULL OR status = $3)
        AND ($4::timestamptz IS NULL OR (at, analysis_id) < ($4::timestamptz, $5::text))
      ORDER BY at DESC, analysis_id DESC
      LIMIT $6`,
    [endpointId, tenantId, filter.status ?? null, after?.at ?? null, after?.id ?? null, limit + 1],
  );
  return toPage(rows, limit, toView, (row) => ({ at: row.at.toISOString(), id: row.analysis_id }));
}
