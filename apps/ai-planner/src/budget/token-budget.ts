import type { Pool, PoolClient } from 'pg';

/** How much of the tenant's daily LLM budget is used. */
export interface BudgetStatus {
  used: number;
  budget: number;
  exhausted: boolean;
}

/** Tokens set aside for one LLM analysis until it records what it spent. */
export interface BudgetReservation {
  tenantId: string;
  day: string;
  tokens: number;
}

export type BudgetDecision =
  { granted: true; reservation: BudgetReservation } | { granted: false; status: BudgetStatus };

/** The UTC day of `now` as `YYYY-MM-DD`. */
export const utcDay = (now: Date) => now.toISOString().slice(0, 10);

/** Set aside per LLM analysis in flight: a prompt of a few thousand tokens and its answers. */
export const DEFAULT_RESERVED_TOKENS = 4_000;

/**
 * Per-tenant daily token budget (`AI_DAILY_TOKEN_BUDGET`): tokens in + out of the LLM per UTC
 * day, in `ai_planner_usage`. A budget of 0 allows no LLM call.
 *
 * An analysis is let through while the day's count is under the budget, and its start adds
 * `reservedTokens` to the count at once (one atomic upsert), so concurrent analyses of the
 * tenant on every replica see each other: the budget is overshot by about one analysis, not
 * one per analysis in flight. The transaction that records the analysis swaps the
 * reservation for what the LLM billed, charged to the day the analysis started. An analysis
 * that dies before recording keeps its reservation charged: it may have been billed.
 */
export class TokenBudget {
  constructor(
    private readonly pool: Pool,
    readonly dailyBudget: number,
    private readonly reservedTokens: number = DEFAULT_RESERVED_TOKENS,
  ) {}

  async status(tenantId: string, now: Date): Promise<BudgetStatus> {
    const { rows } = await this.pool.query<{ used: string }>(
      'SELECT (tokens_in + tokens_out)::text AS used FROM ai_planner_usage WHERE tenant_id = $1 AND day = $2',
      [tenantId, utcDay(now)],
    );
    const used = rows.length ? Number(rows[0].used) : 0;
    return { used, budget: this.dailyBudget, exhausted: used >= this.dailyBudget };
  }

  /** Reserves tokens for one LLM analysis, or says why not (the budget is used up). */
  async reserve(tenantId: string, now: Date): Promise<BudgetDecision> {
    const day = utcDay(now);
    if (this.dailyBudget > 0) {
      const { rowCount } = await this.pool.query(
        `INSERT INTO ai_planner_usage AS u (tenant_id, day, tokens_in, tokens_out, analyses) VALUES ($1, $2, $3, 0, 0)
         ON CONFLICT (tenant_id, day) DO UPDATE
           SET tokens_in = u.tokens_in + EXCLUDED.tokens_in, updated_at = now()
         WHERE u.tokens_in + u.tokens_out < $4`,
        [tenantId, day, this.reservedTokens, this.dailyBudget],
      );
      if (rowCount) return { granted: true, reservation: { tenantId, day, tokens: this.reservedTokens } };
    }
    return { granted: false, status: await this.status(tenantId, now) };
  }

  /** Swaps a reservation for the analysis' actual tokens, in the caller's transaction. */
  async record(
    client: PoolClient,
    reservation: BudgetReservation,
    tokensIn: number,
    tokensOut: number,
  ): Promise<void> {
    await client.query(
      `INSERT INTO ai_planner_usage (tenant_id, day, tokens_in, tokens_out, analyses) VALUES ($1, $2, $3, $4, 1)
       ON CONFLICT (tenant_id, day) DO UPDATE
         SET tokens_in = GREATEST(0, ai_planner_usage.tokens_in + EXCLUDED.tokens_in - $5),
             tokens_out = ai_planner_usage.tokens_out + EXCLUDED.tokens_out,
             analyses = ai_planner_usage.analyses + 1, updated_at = now()`,
      [reservation.tenantId, reservation.day, tokensIn, tokensOut, reservation.tokens],
    );
  }
}
