import { GovernedEndpoint, RunHistory, RunPlan } from './governor.types';

// What to do with a planned run at its due time (DESIGN §5 rule 8, overlap policy).

/**
 * `wait`: not due yet (or nothing planned). `dispatch`: hand the run out. `queue`
 * (`queue_one`): hold it and hand it out when the run in flight finishes. `skip`: record
 * `RunSkipped` (policy `overlap`) and plan the next one.
 */
export type DueDecision =
  | { action: 'wait' }
  | { action: 'dispatch' }
  | { action: 'queue' }
  | { action: 'skip'; reason: 'overlap:in_flight' | 'overlap:queue_full' };

export function decideDue(
  now: Date,
  plan: Pick<RunPlan, 'runAt'>,
  endpoint: Pick<GovernedEndpoint, 'overlap'>,
  history: Pick<RunHistory, 'inFlight' | 'queued'>,
): DueDecision {
  if (plan.runAt === null || plan.runAt.getTime() > now.getTime()) return { action: 'wait' };
  if (!history.inFlight) return { action: 'dispatch' };
  if (endpoint.overlap === 'skip') return { action: 'skip', reason: 'overlap:in_flight' };
  // queue_one holds at most one run back; a further one is skipped.
  return history.queued ? { action: 'skip', reason: 'overlap:queue_full' } : { action: 'queue' };
}
