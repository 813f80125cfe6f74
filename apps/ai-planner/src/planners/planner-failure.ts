import { ToolCallRequest } from '@cronicorn/domain';

export type PlannerFailureReason = 'timeout' | 'error' | 'malformed';

/**
 * The LLM failed, timed out or answered something that is not a chat completion with tool
 * calls. Carries what the planner had done before it failed: tokens spent (they count against
 * the budget) and the tool calls it had already applied (their hints stand).
 */
export class PlannerFailure extends Error {
  readonly code = 'PLANNER.FAILED';

  /**
   * @param message what the tenant is told (in `AIAnalysisFailed`): never the LLM server's own
   *   text, which may name the operator's account, quota or billing.
   * @param detail that text, for the operator's log.
   */
  constructor(
    readonly reason: PlannerFailureReason,
    message: string,
    readonly spent: { tokensIn: number; tokensOut: number; toolCalls: ToolCallRequest[] },
    options?: ErrorOptions & { detail?: string },
  ) {
    super(message, options);
    this.name = 'PlannerFailure';
    this.detail = options?.detail ?? message;
  }

  readonly detail: string;
}
