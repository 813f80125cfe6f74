import { Event } from '../envelope';

// Stream `schedule-<endpointId>`, written only by the scheduler: its plans and what became
// of them. Reading this stream explains every timing decision.

/**
 * The governor planned the endpoint's next run. `reason` is a short code (`cron`,
 * `interval`, `hint:interval`, `backoff`, `paused_until`, `catch_up`, …) and `inputs` the
 * values that decided it, so an audit can recompute the plan.
 */
export type NextRunPlanned = Event<
  'NextRunPlanned',
  {
    endpointId: string;
    jobId: string;
    runId: string;
    runAt: string;
    reason: string;
    inputs: Record<string, unknown>;
    plannedAt: string;
  }
>;

/** A planned run was not made: `overlap` (previous run in flight) or `catch_up` policy. */
export type RunSkipped = Event<
  'RunSkipped',
  {
    endpointId: string;
    runId: string | null;
    scheduledFor: string;
    policy: 'overlap' | 'catch_up' | 'paused';
    reason: string;
    count: number;
    skippedAt: string;
  }
>;

/** A run did not start within its lateness budget: the alert of this product. */
export type RunMissed = Event<
  'RunMissed',
  {
    endpointId: string;
    runId: string;
    scheduledFor: string;
    lateMs: number;
    budgetMs: number;
    detectedAt: string;
  }
>;

export type ScheduleEvent = NextRunPlanned | RunSkipped | RunMissed;
export const ScheduleEventTypes = ['NextRunPlanned', 'RunSkipped', 'RunMissed'] as const;
