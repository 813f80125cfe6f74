import type { EventEnvelope } from '@cronicorn/events';
import type { PoolClient } from 'pg';
import { isEvent, Projection } from '../projection';

/** `rm_analyses`: one row per analysis cycle of the ai-planner, completed or failed. */
export const analysesProjection: Projection = {
  name: 'analyses',
  handles: ['AIAnalysisCompleted', 'AIAnalysisFailed'],

  async apply(envelope: EventEnvelope, client: PoolClient): Promise<void> {
    if (isEvent(envelope, 'AIAnalysisCompleted')) {
      const d = envelope.data;
      await client.query(
        `INSERT INTO rm_analyses (analysis_id, tenant_id, endpoint_id, status, planner, model, tokens_in, tokens_out,
                                  tool_calls, summary, at)
         VALUES ($1, $2, $3, 'completed', $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (analysis_id) DO NOTHING`,
        [
          d.analysisId,
          envelope.tenantId,
          d.endpointId,
          d.planner,
          d.model,
          d.tokensIn,
          d.tokensOut,
          JSON.stringify(d.toolCalls ?? []),
          d.summary,
          d.analyzedAt,
        ],
      );
    } else if (isEvent(envelope, 'AIAnalysisFailed')) {
      const d = envelope.data;
      await client.query(
        `INSERT INTO rm_analyses (analysis_id, tenant_id, endpoint_id, status, planner, model, failure_reason, error,
                                  tokens_in, tokens_out, at)
         VALUES ($1, $2, $3, 'failed', 'ai', $4, $5, $6, $7, $8, $9)
         ON CONFLICT (analysis_id) DO NOTHING`,
        [
          d.analysisId,
          envelope.tenantId,
          d.endpointId,
          d.model,
          d.reason,
          d.error,
          d.tokensIn ?? 0,
          d.tokensOut ?? 0,
          d.failedAt,
        ],
      );
    }
  },
};
