import type { Pool, PoolClient } from 'pg';

/** How much of the tenant's daily LLM budget is used. */
export interface BudgetStatus {
  used: number;
  budget: number;
  exhausted: boolean;
}

/** The UTC day of `now` as `YYYY-MM-DD`. */
export const utcDay = (now: Date) => now.toISOString().slice(0, 10);

/**
 * Per-tenant daily token budget (`AI_DAILY_TOKEN_BUDGET`): tokens in + out of the LLM per UTC
 * day, as recorded in `ai_planner_usage` by the transactions that recorded the analyses. A
 * budget of 0 allows no LLM call. Checked before an analysis, so one analysis may overshoot
 * by its own size (bounded by the step cap).
 */
export class TokenBudget {
  constructor(
    private readonly pool: Pool,
    readonly dailyBudget: number,
  ) {}

  async status(tenantId: string, now: Date): Promise<BudgetStatus> {
    const { rows } = await this.pool.query<{ used: string }>(
      'SELECT (tokens_in + tokens_out)::text AS used FROM ai_planner_usage WHERE tenant_id = $1 AND day = $2',
      [tenantId, utcDay(now)],
    );
    const used = rows.length ? Number(rows[0].used) : 0;
    return { used, budget: this.dailyBudget, exhausted: used >= this.dailyBudget };
  }

  /** Adds one analysis' tokens, in the caller's transaction. */
  async record(
    client: PoolClient,
    tenantId: string,
    now: Date,
    tokensIn: number,
    tokensOut: number,
  ): Promise<void> {
    await client.query(
      `INSERT INTO ai_planner_usage (tenant_id, day, tokens_in, tokens_out, analyses) VALUES ($1, $2, $3, $4, 1)
       ON CONFLICT (tenant_id, day) DO UPDATE
         SET tokens_in = ai_planner_usage.tokens_in + EXCLUDED.tokens_in,
             tokens_out = ai_planner_usage.tokens_out + EXCLUDED.tokens_out,
             analyses = ai_planner_usage.analyses + 1, updated_at = now()`,
      [tenantId, utcDay(now), tokensIn, tokensOut],
    );
  }
}
