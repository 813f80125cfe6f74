import { Counter, Histogram, Registry } from 'prom-client';
import { RunTrigger } from '@cronicorn/events';

/** What happened in one committed transaction of the scheduler. */
export interface Tally {
  planned: number;
  skipped: { overlap: number; catch_up: number; paused: number };
  missed: number;
}

export const emptyTally = (): Tally => ({
  planned: 0,
  skipped: { overlap: 0, catch_up: 0, paused: 0 },
  missed: 0,
});

/** Hooks the scheduler calls after its transactions commit and after publishes. */
export interface SchedulerMetrics {
  onCommitted?(tally: Tally): void;
  /** A work item reached JetStream; lateness = publish time − `scheduledFor` (first publish only). */
  onPublished?(trigger: RunTrigger, latenessMs: number | null, duplicate: boolean): void;
  onPublishFailed?(): void;
}

/** The scheduler's Prometheus metrics on the app's registry (create once per registry). */
export function schedulerMetrics(registry: Registry, prefix = 'cronicorn_'): SchedulerMetrics {
  const planned = new Counter({
    name: `${prefix}scheduler_plans_total`,
    help: 'NextRunPlanned events appended',
    registers: [registry],
  });
  const dispatched = new Counter({
    name: `${prefix}scheduler_runs_dispatched_total`,
    help: 'Runs handed out (first publish of each work item), by trigger',
    labelNames: ['trigger'] as const,
    registers: [registry],
  });
  const skipped = new Counter({
    name: `${prefix}scheduler_runs_skipped_total`,
    help: 'Planned slots skipped, by policy (overlap, catch_up, paused)',
    labelNames: ['policy'] as const,
    registers: [registry],
  });
  const missed = new Counter({
    name: `${prefix}scheduler_runs_missed_total`,
    help: 'Dispatched runs that did not start within their lateness budget (RunMissed)',
    registers: [registry],
  });
  const republished = new Counter({
    name: `${prefix}scheduler_duplicate_publishes_total`,
    help: 'Work items JetStream dropped as already published (same Nats-Msg-Id)',
    registers: [registry],
  });
  const publishFailures = new Counter({
    name: `${prefix}scheduler_publish_failures_total`,
    help: 'Work item publishes that failed (retried by the dispatch outbox)',
    registers: [registry],
  });
  const lateness = new Histogram({
    name: `${prefix}scheduler_dispatch_lateness_seconds`,
    help: 'Publish time of a scheduled work item minus its scheduledFor',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  return {
    onCommitted: (tally) => {
      planned.inc(tally.planned);
      skipped.inc({ policy: 'overlap' }, tally.skipped.overlap);
      skipped.inc({ policy: 'catch_up' }, tally.skipped.catch_up);
      skipped.inc({ policy: 'paused' }, tally.skipped.paused);
      missed.inc(tally.missed);
    },
    onPublished: (trigger, latenessMs, duplicate) => {
      if (duplicate) republished.inc();
      if (latenessMs === null) return;
      dispatched.inc({ trigger });
      if (trigger === 'schedule') lateness.observe(Math.max(0, latenessMs) / 1000);
    },
    onPublishFailed: () => publishFailures.inc(),
  };
}
