import { PlannerToolCall } from './planner.events';
import { NatsNames } from '../subjects';

// On-demand analysis (`POST /v1/endpoints/:id/analyze`): command-api sends a NATS core request
// to the ai-planner replicas (one queue group) and relays the answer. Not an event: nothing is
// stored for the request itself; the analysis it causes is (`AIAnalysisCompleted`/`Failed`).

/** `<namespace.>cronicorn.planner.analyze`: the ai-planner replicas answer in queue group `ai-planner`. */
export function plannerAnalyzeSubject(names: NatsNames): string {
  return `${names.namespace ? `${names.namespace}.` : ''}cronicorn.planner.analyze`;
}

/** The request payload (JSON). */
export interface AnalyzeRequest {
  tenantId: string;
  endpointId: string;
  /** Recorded on the analysis and the hints it leads to. */
  correlationId: string | null;
}

/** The analysis an on-demand request ran, as recorded in the `planner-<endpointId>` stream. */
export interface AnalyzeResult {
  analysisId: string;
  status: 'completed' | 'failed';
  planner: 'ai' | 'heuristic';
  model: string;
  tokensIn: number;
  tokensOut: number;
  toolCalls: PlannerToolCall[];
  summary: string | null;
  failureReason: 'timeout' | 'error' | 'malformed' | null;
  error: string | null;
  /** analyzedAt or failedAt. */
  at: string;
  /** Global position of the analysis event (decimal string). */
  position: string;
}

/**
 * Codes of a refused request: the endpoint does not exist for this tenant (or is archived),
 * another analysis of it is running and did not end in time, the payload is unreadable, or
 * the planner hit an internal error (Postgres down, …).
 */
export type AnalyzeErrorCode =
  'ENDPOINT.NOT_FOUND' | 'ANALYSIS.BUSY' | 'ANALYSIS.INVALID_REQUEST' | 'ANALYSIS.UNAVAILABLE';

/** The reply payload (JSON). */
export type AnalyzeReply =
  { ok: true; analysis: AnalyzeResult } | { ok: false; error: { code: AnalyzeErrorCode; message: string } };
