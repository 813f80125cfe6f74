import { ToolCallRequest } from '@cronicorn/domain';

export type PlannerFailureReason = 'timeout' | 'error' | 'malformed';

/**
 * The LLM failed, timed out or answered something that is not a chat completion with tool
 * calls. Carries what the planner had done before it failed: tokens spent (they count against
 * the budget) and the tool calls it had already applied (their hints stand).
 */
export class PlannerFailure extends Error {
  readonly code = 'PLANNER.FAILED';

  constructor(
    readonly reason: PlannerFailureReason,
    message: string,
    readonly spent: { tokensIn: number; tokensOut: number; toolCalls: ToolCallRequest[] },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PlannerFailure';
  }
}
